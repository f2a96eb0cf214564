/**
 * Which discovery source served a chaos run's requests, in order (pure): the traffic lines carry
 * the source that held the greeter watch's list when each answer was given (`src`), and a scenario
 * such as "Consul entirely down" shows its story as runs of one source: consul, then the Cloud Map
 * mirror from the kill on, then consul again after the restart.
 */

/** What the timeline needs of a traffic line. */
export interface SourcedLine {
  /** Wall-clock ms when the answer came. */
  t: number;
  status: number;
  /** The source that served the watch (`consul`, `dns`, `cloudmap`), absent before the first answer. */
  src?: string;
}

/** A run of consecutive answers served by one source. */
export interface SourceRun {
  src: string;
  /** First and last answer of the run, in ms after the origin given to sourceRuns. */
  from: number;
  to: number;
  sent: number;
  failed: number;
}

/** Splits `lines` (in order) into runs of one source, times relative to `origin`. */
export function sourceRuns(lines: readonly SourcedLine[], origin: number): SourceRun[] {
  const runs: SourceRun[] = [];
  for (const l of lines) {
    const src = l.src ?? 'none';
    const last = runs.at(-1);
    const failed = l.status === 200 ? 0 : 1;
    if (last && last.src === src) {
      last.to = l.t - origin;
      last.sent++;
      last.failed += failed;
    } else runs.push({ src, from: l.t - origin, to: l.t - origin, sent: 1, failed });
  }
  return runs;
}

/** Ms after `origin` of the first answer at or after `origin` that `src` served; undefined if none. */
export function firstServedBy(lines: readonly SourcedLine[], src: string, origin: number): number | undefined {
  const hit = lines.find((l) => l.t >= origin && l.src === src);
  return hit ? hit.t - origin : undefined;
}

const seconds = (ms: number) => (Math.abs(ms) < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1_000).toFixed(1)} s`);

/** One-line summary, e.g. `consul 1,200 → cloudmap 5,400 (+85 ms) → consul 800 (+9.3 s)`; failures in brackets. */
export function describeRuns(runs: readonly SourceRun[]): string {
  return runs
    .map(
      (r, i) =>
        `${r.src} ${r.sent.toLocaleString('en-US')}${i > 0 ? ` (+${seconds(r.from)})` : ''}${r.failed ? ` [${r.failed} failed]` : ''}`,
    )
    .join(' → ');
}
