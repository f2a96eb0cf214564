import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { wrap } from '../../../bench/chart-parts';
import { chartSpec } from '../../../bench/chart-spec';
import { mergeSections, type Merged } from '../../../bench/report-model';
import { summaryMarkdown } from '../../../bench/summary-table';
import { fixtureRun } from '../helpers/bench-run';

const warm = {
  section: 'warm',
  run: fixtureRun('2026-01-02T10:00:00.000Z'),
  latency: [
    { path: 'raw', n: 100, p50: 0.4, p90: 0.6, p99: 1.2, mean: 0.5 },
    { path: 'greet', n: 100, p50: 0.44, p90: 0.7, p99: 1.5, mean: 0.55 },
    { path: 'seed', n: 20, p50: 3.3, p90: 5, p99: 9, mean: 3.6 },
  ],
  ratios: { 'greet/raw p50': 1.1, 'greet/raw p99': 1.25, 'seed/greet p50': 7.5 },
  concurrency: { inFlight: 16, greetPerSec: 1800, rawPerSec: 2000, ratio: 0.9 },
  cpuPerCallUs: { raw: 200, greet: 230 },
  extraFigure: 42,
};
const cold = {
  section: 'cold-start',
  run: fixtureRun('2026-01-03T09:00:00.000Z'),
  greet: { initMs: 300, firstInvokeMs: 60, totalMs: 360 },
  floor: { initMs: 250, firstInvokeMs: 40, totalMs: 290 },
  ratio: 1.24,
  breakdown: [
    { step: 'import', ms: 120 },
    { step: 'config', ms: 20 },
  ],
};
const fleet = {
  section: 'fleet',
  run: fixtureRun('2026-01-03T11:00:00.000Z'),
  rows: [10, 100].map((environments) => ({
    environments,
    processes: 1,
    consulRequestsPerSec: environments / 10,
    consulCpuPercent: 1,
    consulRssMb: 100,
    propagationP50Ms: 50,
    propagationMaxMs: 90,
    connectionsPerIp: environments + 1,
    http429: 0,
    agentHttpPerSec: environments / 8,
  })),
  formula: 'N environments cost about N/8 requests per second',
};
const bySource = {
  ...fleet,
  rows: (['consul', 'dns', 'cloudmap'] as const).flatMap((source) =>
    [100, 5000].map((environments) => ({
      ...fleet.rows[0],
      source,
      leaseMode: source === 'consul' ? 'session' : 'off',
      environments,
      consulRequestsPerSec: 5,
      agentHttpPerSec: 1,
      consulDnsQueriesPerSec: source === 'dns' ? 2 : 0,
      consulDiscoveryRequestsPerSec: source === 'consul' ? environments / 10 : source === 'dns' ? 2 : 0,
      consulLeaseRequestsPerSec: source === 'consul' ? environments / 5 : 0,
    })),
  ),
};
const files = (...sections: object[]) =>
  sections.map((s) => ({ file: `${(s as { section: string }).section}.json`, text: JSON.stringify(s) }));
const NOW = new Date('2026-01-04T00:00:00.000Z');

function panelTitles(merged: Merged): string[] {
  const spec = chartSpec(merged);
  assert.ok(spec && 'vconcat' in spec);
  return spec.vconcat.map((p) => {
    const t = (p as { title?: { text: string } }).title;
    return t?.text ?? '';
  });
}

describe('mergeSections', () => {
  it('keeps each section with its extras, and states the machine and the days of the run', () => {
    const merged = mergeSections(files(warm, cold), NOW);
    assert.deepEqual(Object.keys(merged.sections).sort(), ['cold-start', 'warm']);
    assert.equal(merged.sections.warm?.extraFigure, 42);
    assert.equal(merged.machine, 'Test CPU 9000, 2 cores, 8 GiB, node v20.0.0');
    assert.equal(merged.date, '2026-01-02 – 2026-01-03');
    assert.equal(merged.generatedAt, NOW.toISOString());
    assert.deepEqual(merged.skipped, []);
  });

  it('names both machines when sections ran on different ones', () => {
    const merged = mergeSections(files(warm, { ...cold, run: fixtureRun('2026-01-02T11:00:00.000Z', 'Other CPU') }), NOW);
    assert.match(merged.machine, /Test CPU 9000.*; Other CPU/);
    assert.equal(merged.date, '2026-01-02');
  });

  it('skips a file that is not JSON or lacks a field the report reads, saying which', () => {
    const broken = { ...cold, breakdown: [{ step: 'import' }] };
    const merged = mergeSections([...files(warm, broken), { file: 'half.json', text: '{"section": "fl' }], NOW);
    assert.deepEqual(Object.keys(merged.sections), ['warm']);
    assert.deepEqual(merged.skipped, [
      { file: 'cold-start.json', reason: 'cold-start: breakdown.0.ms: Invalid input: expected number, received undefined' },
      { file: 'half.json', reason: 'not valid JSON' },
    ]);
  });

  it('keeps an unknown section that has the envelope', () => {
    const merged = mergeSections(files({ section: 'mtls', run: fixtureRun('2026-01-02T00:00:00.000Z'), overheadMs: 0.1 }), NOW);
    assert.ok(merged.sections.mtls);
  });
});

describe('chartSpec', () => {
  it('draws one panel per section present, in a fixed order', () => {
    assert.deepEqual(panelTitles(mergeSections(files(fleet, warm, cold), NOW)), [
      'Ratios against their targets',
      'Warm path latency (ms)',
      'Cold start in the Lambda emulator (ms)',
      'Fleet: Consul load and change propagation, per discovery source',
    ]);
    assert.deepEqual(panelTitles(mergeSections(files(fleet), NOW)), ['Fleet: Consul load and change propagation, per discovery source']);
    assert.equal(
      chartSpec(mergeSections(files({ section: 'mtls', run: fixtureRun('2026-01-02T00:00:00.000Z'), overheadMs: 1 }), NOW)),
      undefined,
    );
  });

  it('puts every percentile of every path, the cold-start steps and both fleet series in the data', () => {
    const spec = chartSpec(mergeSections(files(warm, cold, fleet), NOW));
    assert.ok(spec && 'vconcat' in spec);
    const [, w, c, f] = spec.vconcat as unknown as Array<{
      data?: { values: Array<Record<string, unknown>> };
      vconcat?: Array<{ data: { values: Array<Record<string, unknown>> } }>;
      hconcat?: Array<{ data: { values: Array<Record<string, unknown>> } }>;
    }>;
    assert.equal(w?.data?.values.length, 9);
    assert.ok(w?.data?.values.some((v) => v.path === 'greet (ours)' && v.percentile === 'p99' && v.ms === 1.5));
    assert.deepEqual(
      c?.vconcat?.[0]?.data.values.map((v) => [v.step, v.ms]),
      [
        ['import', 120],
        ['config', 20],
      ],
    );
    // A row without a source is the consul source with the agent lease: servers' RPCs plus the agent's HTTP.
    assert.deepEqual(
      f?.hconcat?.[0]?.data.values.filter((v) => v.environments === 100).map((v) => [v.series, v.share, v.requestsPerSec]),
      [['consul, agent lease', 'all requests', 22.5]],
    );
  });

  it('draws one series per source and lease mode, with the discovery share of each', () => {
    const spec = chartSpec(mergeSections(files(bySource), NOW));
    assert.ok(spec && 'vconcat' in spec);
    const [f] = spec.vconcat as unknown as Array<{ hconcat: Array<{ data: { values: Array<Record<string, unknown>> } }> }>;
    const load = f?.hconcat[0]?.data.values ?? [];
    assert.deepEqual(
      [...new Set(load.map((v) => v.series))],
      ['consul, session lease', 'dns (discovery only)', 'cloudmap (discovery only)'],
    );
    assert.deepEqual(
      load.filter((v) => v.series === 'dns (discovery only)').map((v) => [v.environments, v.share, v.requestsPerSec]),
      [
        [100, 'all requests', 5 + 1 + 2],
        [100, 'discovery only', 2],
        [5000, 'all requests', 5 + 1 + 2],
        [5000, 'discovery only', 2],
      ],
    );
    const propagation = (f?.hconcat[1] as unknown as { layer: Array<{ data: { values: Array<Record<string, unknown>> } }> }).layer[0];
    assert.equal(propagation?.data.values.filter((v) => v.series === 'cloudmap (discovery only)' && v.figure === 'max').length, 2);
  });

  it('is a spec vega-lite compiles', async () => {
    const vl = await import('vega-lite');
    const spec = chartSpec(mergeSections(files(warm, cold, fleet), NOW));
    assert.ok(spec);
    const compiled = vl.compile(spec).spec;
    assert.ok(Array.isArray(compiled.marks) && compiled.marks.length >= 3);
  });

  it('wraps a long subtitle at spaces', () => {
    assert.deepEqual(wrap('aaa bbb ccc ddd', 7), ['aaa bbb', 'ccc ddd']);
    assert.deepEqual(wrap('', 7), []);
  });
});

describe('summaryMarkdown', () => {
  it('states the machine and date, each figure against its target, and what is missing', () => {
    const md = summaryMarkdown(mergeSections(files(warm, cold), NOW));
    assert.match(md, /^Rows from 2 runs \(`npm run bench`\), 2026-01-02 – 2026-01-03: each row names the date and machine of its run\./);
    assert.match(
      md,
      /\| Warm p50, greet \/ raw grpc-js \| 1\.10× ✅ \(0\.440 ms \/ 0\.400 ms\) \| ≤ 1\.15× \| 2026-01-02, Test CPU 9000, 2 cores, 8 GiB, node v20\.0\.0 \|/,
    );
    assert.match(md, /\| Warm p99, greet \/ raw grpc-js \| 1\.25× ❌/);
    assert.match(md, /seed pattern \/ greet \| 7\.50× ✅/);
    assert.match(md, /CPU per call in the calling process, greet \/ raw grpc-js \| 1\.15× \(230 µs \/ 200 µs\)/);
    assert.match(md, /16 in flight, greet \/ raw throughput \| 0\.90× ❌ \(1800 \/ 2000 calls\/s\) \| ≥ 0\.95×/);
    assert.match(md, /greet \/ floor \| 1\.24× ✅ \(360 ms \/ 290 ms\) \| ≤ 1\.3× \| 2026-01-03, Test CPU 9000/);
    assert.match(md, /Not in these results: bundle, fleet\./);
  });

  it("sets the floors (raw grpc-js carrying greet's trace metadata) beside the throughput and tracing targets", () => {
    const withFloor = {
      ...warm,
      latency: [...warm.latency, { path: 'raw+trace', n: 100, p50: 0.41, p90: 0.6, p99: 1.2, mean: 0.5 }],
      ratios: { ...warm.ratios, 'greet/raw+trace p50': 1.07 },
      concurrency: { ...warm.concurrency, rawTracePerSec: 1700, rawTraceRatio: 0.85 },
    };
    const tracing = {
      section: 'tracing',
      run: fixtureRun('2026-01-02T11:00:00.000Z'),
      ratioP50: 1.08,
      floorRatioP50: 1.05,
      leastOnOffP50: 1.04,
    };
    const md = summaryMarkdown(mergeSections(files(withFloor, tracing), NOW));
    assert.match(
      md,
      /16 in flight, raw grpc-js with greet's trace metadata \/ raw \(the most a propagating caller reaches\) \| 0\.85× \(1700 \/ 2000 calls\/s\) \| \(floor\)/,
    );
    assert.match(md, /Warm p50, greet \/ raw grpc-js with greet's trace metadata \| 1\.07× \(0\.440 ms \/ 0\.410 ms\) \| \(reference\)/);
    assert.match(
      md,
      /Trace propagation floor: raw grpc-js with the same headers \/ without, p50 \| 1\.05× \(the least on \/ off a propagating gateway could show: 1\.04×\) \| \(floor\)/,
    );
    // Without the floors (results of an older run) neither row is written, nor said to be missing.
    const older = summaryMarkdown(mergeSections(files(warm), NOW));
    assert.doesNotMatch(older, /trace metadata|propagation floor/);
  });

  it('holds the fleet table, one row per size, and the formula', () => {
    const md = summaryMarkdown(mergeSections(files(fleet), NOW));
    const rows = md.split('\n').filter((l) => /^\| consul \| agent \| \d+ \|/.test(l));
    assert.equal(rows.length, 2);
    assert.match(
      rows[1] ?? '',
      /^\| consul \| agent \| 100 \| 1 \| – \| – \| 12\.5 \| – \| 10\.0 \| 50 ms \/ 90 ms \| 101 \| 0 \| 2026-01-03, Test CPU 9000, 2 cores, 8 GiB, node v20\.0\.0 \|$/,
    );
    assert.match(md, /Formula: N environments cost about N\/8/);
  });

  it('names the source and lease mode of each fleet row, with the discovery and lease shares', () => {
    const md = summaryMarkdown(mergeSections(files(bySource), NOW));
    assert.match(
      md,
      /^\| dns \| off \| 5000 \| 1 \| 2\.0 \| 0\.0 \| 1\.0 \| 2\.0 \| 5\.0 \| 50 ms \/ 90 ms \| 11 \| 0 \| 2026-01-03, [^|]+ \|$/m,
    );
    assert.match(md, /^\| consul \| session \| 5000 \| 1 \| 500\.0 \| 1000\.0 \|/m);
  });
});
