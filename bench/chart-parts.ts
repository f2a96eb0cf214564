/**
 * What the chart's panels share (pure): sizes, the legend and target-rule marks, the subtitle line
 * naming a panel's run(s), and the panel type vega-lite gives a vertical stack's member.
 */
import type { TopLevelSpec } from 'vega-lite' with { 'resolution-mode': 'import' };
import { distinctRuns, type RunInfo } from './report-model';

export const WIDTH = 520;
// No label limit: the longest label drawn (a cold-start step) is never cut with an ellipsis.
export const LEGEND = { labelLimit: 0, titleLimit: 0 };
/** A goal drawn as a dashed rule. */
export const RULE = { type: 'rule' as const, color: '#444', strokeDash: [4, 3] };
/** The label beside a goal's rule. */
export const RULE_LABEL = { type: 'text', align: 'left', dx: 4, dy: -6, fontSize: 10, color: '#444' } as const;

/** `text` cut at spaces into lines of at most `width` characters, so a long subtitle does not widen the chart. */
export function wrap(text: string, width = 110): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** The subtitle line naming the run(s) of a panel. */
export function runLine(runs: readonly RunInfo[]): string {
  const labels = distinctRuns(runs);
  return labels.length === 1 ? `Run: ${labels[0]}` : `Runs: ${labels.join('; ')}`;
}

/** One panel of the vertical stack, typed by vega-lite itself. */
export type Panel = Extract<TopLevelSpec, { vconcat: unknown }>['vconcat'][number];
