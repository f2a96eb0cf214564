/**
 * `npm run bench:report`: merges bench/results/<section>.json into bench/results/latest.json,
 * renders bench/results/chart.svg (vega-lite compiled, then rendered by vega in Node, no
 * browser) and prints the headline table, also written to bench/results/summary.md.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chartSpec } from './chart-spec';
import { mergeSections } from './report-model';
import { summaryMarkdown } from './summary-table';

const DIR = join(__dirname, 'results');
const OUTPUTS = new Set(['latest.json']);

/** Compiles a vega-lite spec and renders it to an SVG string. */
async function renderSvg(spec: NonNullable<ReturnType<typeof chartSpec>>): Promise<string> {
  // Both packages are ESM with top-level await: only a dynamic import reaches them from here.
  const vl = await import('vega-lite');
  const vega = await import('vega');
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

async function main(): Promise<void> {
  const files = readdirSync(DIR)
    .filter((f) => f.endsWith('.json') && !OUTPUTS.has(f))
    .sort()
    .map((file) => ({ file, text: readFileSync(join(DIR, file), 'utf8') }));
  const merged = mergeSections(files, new Date());
  writeFileSync(join(DIR, 'latest.json'), `${JSON.stringify(merged, null, 2)}\n`);
  console.log(`merged ${Object.keys(merged.sections).join(', ') || 'nothing'} into ${join(DIR, 'latest.json')}`);
  const spec = chartSpec(merged);
  if (spec) {
    writeFileSync(join(DIR, 'chart.svg'), await renderSvg(spec));
    console.log(`chart: ${join(DIR, 'chart.svg')}`);
  } else {
    console.log('no warm, cold-start or fleet section: no chart');
  }
  const summary = summaryMarkdown(merged);
  writeFileSync(join(DIR, 'summary.md'), summary);
  console.log(`\n${summary}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
