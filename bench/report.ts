/**
 * `npm run bench:report`: merges the sections in bench/out/ (the last local runs) into latest.json,
 * renders chart.svg (vega-lite compiled, then rendered by vega in Node, no browser) and writes and
 * prints summary.md, all in bench/out/. With `--published` it does the same from the tracked
 * bench/results/ and regenerates the tables in docs/results/ (what `--publish` runs after copying).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chartSpec } from './chart-spec';
import { docsFiles } from './docs-tables';
import { mergeSections, type Merged } from './report-model';
import { DOCS_RESULTS_DIR, OUT_DIR, PUBLISHED_DIR } from './results';
import { summaryMarkdown } from './summary-table';

/** Files the report writes into the folder it reads, never read back as sections. */
const OUTPUTS = new Set(['latest.json']);

/** Compiles a vega-lite spec and renders it to an SVG string. */
export async function renderSvg(spec: NonNullable<ReturnType<typeof chartSpec>>): Promise<string> {
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

/** Merges the section files of `dir` and writes latest.json, chart.svg and summary.md beside them; with `docsDir`, the published tables too. */
export async function writeReport(dir: string, docsDir?: string): Promise<Merged> {
  mkdirSync(dir, { recursive: true });
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !OUTPUTS.has(f))
    .sort()
    .map((file) => ({ file, text: readFileSync(join(dir, file), 'utf8') }));
  const merged = mergeSections(files, new Date());
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(merged, null, 2)}\n`);
  console.log(`merged ${Object.keys(merged.sections).join(', ') || 'nothing'} into ${join(dir, 'latest.json')}`);
  const spec = chartSpec(merged);
  if (spec) {
    writeFileSync(join(dir, 'chart.svg'), await renderSvg(spec));
    console.log(`chart: ${join(dir, 'chart.svg')}`);
  } else {
    rmSync(join(dir, 'chart.svg'), { force: true });
    console.log('no warm, cold-start, bundle or fleet section: no chart');
  }
  const summary = summaryMarkdown(merged);
  writeFileSync(join(dir, 'summary.md'), summary);
  if (docsDir) {
    mkdirSync(docsDir, { recursive: true });
    for (const { name, text } of docsFiles(merged)) {
      writeFileSync(join(docsDir, name), text);
      console.log(`published table: ${join(docsDir, name)}`);
    }
  }
  console.log(`\n${summary}`);
  return merged;
}

if (require.main === module) {
  const published = process.argv.includes('--published');
  writeReport(published ? PUBLISHED_DIR : OUT_DIR, published ? DOCS_RESULTS_DIR : undefined).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
