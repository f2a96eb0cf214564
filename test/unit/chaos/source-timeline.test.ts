import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRuns, firstServedBy, sourceRuns, type SourcedLine } from '../../../scripts/chaos/source-timeline';

const line = (t: number, src?: string, status = 200): SourcedLine => ({ t, status, ...(src ? { src } : {}) });

describe('chaos source timeline', () => {
  it('groups consecutive answers of one source into runs, relative to the origin, counting failures', () => {
    const runs = sourceRuns(
      [line(990, 'consul'), line(1_010, 'consul'), line(1_100, 'cloudmap'), line(1_200, 'cloudmap', 503), line(4_000, 'consul')],
      1_000,
    );
    assert.deepEqual(runs, [
      { src: 'consul', from: -10, to: 10, sent: 2, failed: 0 },
      { src: 'cloudmap', from: 100, to: 200, sent: 2, failed: 1 },
      { src: 'consul', from: 3_000, to: 3_000, sent: 1, failed: 0 },
    ]);
  });

  it('names answers given before any source served "none", and a source that comes back starts a new run', () => {
    const runs = sourceRuns([line(0), line(1, 'cloudmap'), line(2, 'consul'), line(3, 'cloudmap')], 0);
    assert.deepEqual(
      runs.map((r) => r.src),
      ['none', 'cloudmap', 'consul', 'cloudmap'],
    );
    assert.deepEqual(sourceRuns([], 0), []);
  });

  it('finds the first answer a source served at or after the origin', () => {
    const lines = [line(5, 'cloudmap'), line(10, 'consul'), line(20, 'cloudmap'), line(30, 'consul')];
    assert.equal(firstServedBy(lines, 'consul', 15), 15);
    assert.equal(firstServedBy(lines, 'cloudmap', 20), 0);
    assert.equal(firstServedBy(lines, 'dns', 0), undefined);
  });

  it('summarises the runs on one line: counts grouped, later runs with their start, failures bracketed', () => {
    const runs = sourceRuns(
      [line(0, 'consul'), ...Array.from({ length: 1_500 }, (_, i) => line(85 + i, 'cloudmap')), line(9_300, 'consul', 503)],
      0,
    );
    assert.equal(describeRuns(runs), 'consul 1 → cloudmap 1,500 (+85 ms) → consul 1 (+9.3 s) [1 failed]');
  });
});
