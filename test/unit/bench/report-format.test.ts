import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headlineTargets } from '../../../bench/chart-targets';
import { chartSpec } from '../../../bench/chart-spec';
import { docsFiles } from '../../../bench/docs-tables';
import { fleetFormulas } from '../../../bench/fleet/fleet-formulas';
import type { FleetRow } from '../../../bench/fleet/fleet-row';
import { cell, latencyTable, millis, signed, times } from '../../../bench/format';
import { renderSvg } from '../../../bench/report';
import { mergeSections } from '../../../bench/report-model';
import { summaryMarkdown } from '../../../bench/summary-table';
import { fixtureRun } from '../helpers/bench-run';

const files = (...sections: object[]) =>
  sections.map((s) => ({ file: `${(s as { section: string }).section}.json`, text: JSON.stringify(s) }));
const NOW = new Date('2026-01-04T00:00:00.000Z');

const warm = {
  section: 'warm',
  run: fixtureRun('2026-01-02T10:00:00.000Z'),
  latency: [
    { path: 'raw', n: 100, p50: 0.4, p90: 0.6, p99: 1.2, mean: 0.5 },
    { path: 'greet', n: 100, p50: 0.44, p90: 0.7, p99: 1.5, mean: 0.55 },
  ],
  // A ratio the run did not produce: absent, as JSON keeps an undefined figure.
  ratios: { 'greet/raw p50': 1.1, 'greet/raw p99': 1.25 },
};
const cold = {
  section: 'cold-start',
  run: fixtureRun('2026-01-03T09:00:00.000Z', 'Other CPU'),
  greet: { initMs: 300, firstInvokeMs: 60, totalMs: 360 },
  floor: { initMs: 250, firstInvokeMs: 40, totalMs: 290 },
  ratio: 1.24,
  breakdown: [{ step: 'handler', ms: 120 }],
  // JSON turns a NaN figure into null: what an older run wrote for a bundle it could not require.
  load: { greetImportMs: 60, floorImportMs: 30, greetRequireMs: null, floorRequireMs: null },
};
const metrics = { section: 'metrics', run: fixtureRun('2026-01-03T10:00:00.000Z'), ratioP50: null, emfLineMs: 0.01 };
const fleetRow = (environments: number, extra: object = {}) => ({
  source: 'dns',
  leaseMode: 'off',
  environments,
  processes: 1,
  consulRequestsPerSec: 5,
  consulCpuPercent: 1,
  consulRssMb: 100,
  propagationP50Ms: 50,
  propagationMaxMs: 90,
  propagationTargetMs: 6000,
  connectionsPerIp: 0,
  http429: 0,
  ...extra,
});
const fleet = {
  section: 'fleet',
  run: fixtureRun('2026-01-03T11:00:00.000Z'),
  // The second row was re-run on another day: it carries its own run.
  rows: [fleetRow(100), fleetRow(1000, { run: fixtureRun('2026-01-05T08:00:00.000Z', 'Third CPU') })],
  formula: 'dns/off: flat',
};

describe('report formatting', () => {
  it('never prints NaN, Infinity, undefined or null, and leaves a figure out with its reason', () => {
    const merged = mergeSections(files(warm, cold, metrics, fleet), NOW);
    // In the chart spec a null title, sort or stack is vega-lite's "none"; any other null is a NaN that JSON rewrote.
    const chart = JSON.stringify(chartSpec(merged)).replace(/"(title|sort|stack)":null/g, '');
    const texts = [summaryMarkdown(merged), ...docsFiles(merged).map((f) => f.text), chart];
    for (const text of texts) assert.doesNotMatch(text, /NaN|Infinity|undefined|\bnull\b/);
    const md = summaryMarkdown(merged);
    assert.match(md, /Left out: Metrics \(EMF\) on \/ off, warm greet p50: the metrics on\/off ratio was not measured\./);
    assert.doesNotMatch(md, /\| Metrics \(EMF\)/);
    const coldDoc = docsFiles(merged).find((f) => f.name === 'cold-start.md')?.text ?? '';
    assert.match(coldDoc, /Left out: bundle `require` in a fresh node: not measured/);
    assert.doesNotMatch(coldDoc, /\| bundle `require`/);
  });

  it('puts the date and machine of its run on every headline row and every fleet row', () => {
    const md = summaryMarkdown(mergeSections(files(warm, cold, fleet), NOW));
    assert.match(md, /^Rows from 4 runs .*each row names the date and machine of its run\./);
    const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Figure') && !l.startsWith('| source'));
    assert.equal(rows.length, 5);
    for (const row of rows) assert.match(row, /\| 2026-01-0\d, [A-Za-z ]+\d*, 2 cores, 8 GiB, node v20\.0\.0 \|$/);
    assert.match(md, /\| Cold start .* \| 2026-01-03, Other CPU, 2 cores/);
    assert.match(md, /\| dns \| off \| 100 \| .* \| 2026-01-03, Test CPU 9000, /);
    assert.match(md, /\| dns \| off \| 1000 \| .* \| 2026-01-05, Third CPU, /);
  });

  it('names one run once when every figure came from it', () => {
    const md = summaryMarkdown(mergeSections(files(warm), NOW));
    assert.match(
      md,
      /^Measured on 2026-01-02, Test CPU 9000, 2 cores, 8 GiB, node v20\.0\.0 \(`npm run bench`\); every row is of this run\./,
    );
  });

  it('writes signed terms with a minus sign, never "+ -"', () => {
    assert.equal(signed(-0.1), '− 0.1');
    assert.equal(signed(0.1), '+ 0.1');
    assert.equal(signed(-0), '+ 0');
    const rows = [100, 1000].map(
      (environments) =>
        ({ ...fleetRow(environments), consulDiscoveryRequestsPerSec: environments / 10 - 5, connectionsPerIp: 3 }) as unknown as FleetRow,
    );
    const { formula } = fleetFormulas(rows);
    assert.match(formula, /0\.1·N − 5 \/s/);
    assert.doesNotMatch(formula, /\+ -|NaN/);
  });

  it('formats a missing figure as nothing (undefined) or a dash, not as NaN', () => {
    assert.equal(times(Number.NaN), undefined);
    assert.equal(millis(undefined), undefined);
    assert.equal(millis(Number.POSITIVE_INFINITY), undefined);
    assert.equal(cell(Number.NaN), '–');
    assert.equal(times(1.234), '1.23×');
  });
});

describe('chart', () => {
  it('draws each target as a rule with its label, and dates every panel', () => {
    const merged = mergeSections(files(warm, cold, fleet), NOW);
    const targets = headlineTargets(merged);
    assert.deepEqual(
      targets.map((t) => [t.figure, t.target, t.targetLabel, t.verdict]),
      [
        ['warm p50, greet / raw (2026-01-02)', 1.15, 'target ≤ 1.15×', 'meets its target'],
        ['warm p99, greet / raw (2026-01-02)', 1.15, 'target ≤ 1.15×', 'misses its target'],
        ['cold start, greet / floor (2026-01-03)', 1.3, 'target ≤ 1.3×', 'meets its target'],
      ],
    );
    const spec = chartSpec(merged);
    assert.ok(spec && 'vconcat' in spec);
    const json = JSON.stringify(spec);
    assert.match(json, /target: greet ≤ 1\.3 × floor = 377 ms/);
    assert.match(json, /target 6 s: dns \(discovery only\)/);
    for (const panel of spec.vconcat.slice(1)) {
      const subtitle = JSON.stringify((panel as { title?: { subtitle?: unknown } }).title?.subtitle);
      assert.match(subtitle, /Runs?: 2026-01-0\d/);
    }
  });

  it('keeps step colours and emulator-phase colours in separate legends', () => {
    const spec = chartSpec(mergeSections(files(cold), NOW));
    assert.ok(spec && 'vconcat' in spec);
    const coldPanel = spec.vconcat.find((p) => JSON.stringify(p).includes('Cold start')) as unknown as {
      vconcat: unknown[];
      resolve: unknown;
    };
    const titles = JSON.stringify(coldPanel.vconcat).match(/"title":"(step|phase)[^"]*"/g);
    assert.deepEqual(titles, ['"title":"step (greet\'s trace)"', '"title":"phase (emulator)"']);
    assert.deepEqual(coldPanel.resolve, { scale: { color: 'independent' }, legend: { color: 'independent' } });
  });

  it('puts a tick under every fleet size, the last one included', () => {
    const spec = chartSpec(mergeSections(files({ ...fleet, rows: [fleetRow(100), fleetRow(1000), fleetRow(2500)] }), NOW));
    const json = JSON.stringify(spec);
    assert.match(json, /"axis":\{"values":\[100,1000,2500\]/);
  });

  it('renders to an SVG without a label cut short', async () => {
    const spec = chartSpec(mergeSections(files(warm, cold, fleet), NOW));
    assert.ok(spec);
    const svg = await renderSvg(spec);
    assert.match(svg, /^<svg/);
    assert.doesNotMatch(svg, /…/);
  });
});

describe('latencyTable', () => {
  it('aligns every column under its header, whatever the labels', () => {
    const lines = latencyTable([
      ['off', { n: 2000, p50: 0.7, p99: 1.234, mean: 0.8 }],
      ['a much longer case', { n: 5, p50: 10.5, p99: 120, mean: 11 }],
    ]);
    assert.equal(lines.length, 3);
    assert.match(lines[1]!, /^off +2000 +0\.700 +1\.234 +0\.800$/);
    // Where each number column ends (right-aligned), and where the header's n and "ms" units end.
    const ends = (line: string, re: RegExp) => [...line.matchAll(re)].map((m) => (m.index ?? 0) + m[0].length);
    const row = (line: string) => ends(line, /\S+(?= |$)/g).slice(-4);
    assert.deepEqual(row(lines[1]!), row(lines[2]!));
    assert.deepEqual(ends(lines[0]!, /\b(?:n|ms)(?= |$)/g), row(lines[1]!));
  });
});
