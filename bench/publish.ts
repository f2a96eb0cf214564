/**
 * Publishing a run: copies the sections it wrote from bench/out/ into the tracked bench/results/,
 * then regenerates the published report there (latest.json, chart.svg, summary.md) and the tables
 * in docs/results/. Run by `--publish` on `npm run bench` or any bench:* command, or on its own:
 * `npm run bench:publish -- bundle tracing` publishes those sections of the last local run.
 */
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mergeSections } from './report-model';
import { writeReport } from './report';
import { DOCS_RESULTS_DIR, OUT_DIR, PUBLISHED_DIR } from './results';

/** Why `section`'s file in `dir` may not be published (missing, invalid, or older than `since`); undefined when it may. */
export function refusal(dir: string, section: string, since?: Date): string | undefined {
  const file = join(dir, `${section}.json`);
  if (!existsSync(file)) return `${file} does not exist`;
  const merged = mergeSections([{ file: `${section}.json`, text: readFileSync(file, 'utf8') }], new Date());
  const skipped = merged.skipped[0];
  if (skipped) return `${file} is not a complete section (${skipped.reason})`;
  const s = merged.sections[section];
  if (!s) return `${file} holds another section`;
  if ((s as Record<string, unknown>).partial === true) return `${file} holds a partial run`;
  if (since && new Date(s.run.finishedAt) < since) return `${file} is from an earlier run (${s.run.finishedAt})`;
  return undefined;
}

/** Copies `sections` from bench/out/ to bench/results/ and regenerates the published report; throws, copying nothing, when one may not be published. */
export async function publish(sections: readonly string[], since?: Date): Promise<void> {
  if (!sections.length) throw new Error('nothing to publish: no section was written');
  const refused = sections.flatMap((s) => {
    const why = refusal(OUT_DIR, s, since);
    return why ? [why] : [];
  });
  if (refused.length) throw new Error(`not published: ${refused.join('; ')}`);
  for (const s of sections) {
    copyFileSync(join(OUT_DIR, `${s}.json`), join(PUBLISHED_DIR, `${s}.json`));
    console.log(`published ${s}: bench/results/${s}.json`);
  }
  await writeReport(PUBLISHED_DIR, DOCS_RESULTS_DIR);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const sinceAt = args.indexOf('--since');
  const since = sinceAt >= 0 ? new Date(args[sinceAt + 1] ?? '') : undefined;
  const sections = args.filter((a, i) => !a.startsWith('--') && (sinceAt < 0 || i !== sinceAt + 1));
  publish(sections, since).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
