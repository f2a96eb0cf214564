import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chaosResults, fixedWidthTable, markdownTable, type ChaosRow } from '../../../scripts/chaos/chaos-table';

const rows: ChaosRow[] = [
  { scenario: 'leader SIGKILL', sent: 8646, failed: 0, remote: 0, p50: 0.46, p99: 3.9, max: 15.2, recoverMs: 0, note: '' },
  {
    scenario: 'all local backends SIGKILL (dc2 takes over)',
    sent: 8651,
    failed: 22,
    remote: 8000,
    p50: 0.5,
    p99: 3.4,
    max: 66,
    recoverMs: 721.6,
    note: '22 BACKEND_UNAVAILABLE | first',
  },
];

describe('chaos tables', () => {
  it('aligns the terminal table: one line per scenario under the header', () => {
    const lines = fixedWidthTable(rows).split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[1] ?? '', /^leader SIGKILL\s+8646\s+0\s+0\.5\s+3\.9\s+15\.2\s+0 {2}$/);
    assert.match(lines[2] ?? '', /\s8651\s+22\s.*\s722 {2}22 BACKEND_UNAVAILABLE/);
  });

  it('writes a Markdown table with grouped counts, when the last failure came, and escaped pipes', () => {
    const md = markdownTable(rows).split('\n');
    assert.equal(md[0], '| fault | sent | failed | p50 / p99 / max ms | served by a failover dc | note |');
    assert.equal(md[1], '|---|---|---|---|---|---|');
    assert.equal(md[2], '| leader SIGKILL | 8,646 | 0 | 0.5 / 3.9 / 15 | 0 |  |');
    assert.equal(
      md[3],
      '| all local backends SIGKILL (dc2 takes over) | 8,651 | 22 (last at 722 ms) | 0.5 / 3.4 / 66 | 8,000 | 22 BACKEND_UNAVAILABLE \\| first |',
    );
  });

  it('puts the rows and the Markdown table in the results document', () => {
    const doc = chaosResults(rows, { date: new Date('2026-12-06T22:00:00Z'), node: 'v20.19.0', windowMs: 6000 });
    assert.deepEqual(JSON.parse(JSON.stringify(doc)), {
      date: '2026-12-06T22:00:00.000Z',
      node: 'v20.19.0',
      windowMs: 6000,
      rows,
      markdown: markdownTable(rows),
    });
  });
});
