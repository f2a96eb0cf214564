import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { refusal } from '../../../bench/publish';
import { fixtureRun } from '../helpers/bench-run';

const dir = mkdtempSync(join(tmpdir(), 'bench-publish-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, body: object | string) =>
  writeFileSync(join(dir, `${name}.json`), typeof body === 'string' ? body : JSON.stringify(body));

describe('refusal (what --publish will not copy into bench/results/)', () => {
  it('lets a complete section of this run through', () => {
    write('tracing', { section: 'tracing', run: fixtureRun('2026-01-02T10:00:00.000Z'), ratioP50: 1.01 });
    assert.equal(refusal(dir, 'tracing', new Date('2026-01-02T09:00:00.000Z')), undefined);
  });

  it('refuses a section from an earlier run, a missing one, a partial one and one that lacks its figures', () => {
    assert.match(refusal(dir, 'tracing', new Date('2026-01-02T11:00:00.000Z')) ?? '', /from an earlier run \(2026-01-02T10:00:00\.000Z\)/);
    assert.match(refusal(dir, 'warm') ?? '', /warm\.json does not exist/);
    write('fleet', { section: 'fleet', run: fixtureRun('2026-01-02T10:00:00.000Z'), rows: [], formula: '', partial: true });
    assert.match(refusal(dir, 'fleet') ?? '', /holds a partial run/);
    write('cold-start', { section: 'cold-start', run: fixtureRun('2026-01-02T10:00:00.000Z'), ratio: 1.2 });
    assert.match(refusal(dir, 'cold-start') ?? '', /is not a complete section \(cold-start: greet: /);
    write('bundle', '{"section": "bun');
    assert.match(refusal(dir, 'bundle') ?? '', /not valid JSON/);
  });
});
