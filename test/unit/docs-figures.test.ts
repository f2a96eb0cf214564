/**
 * Every measured figure the README and docs/*.md quote must be one a published run holds.
 *
 * What counts as a figure: a ratio (`1.55×`) or a time in milliseconds (`148 ms`, each end of
 * `18–35 ms`), in prose and tables. Not checked, because they are not measurements:
 * - anything inside fenced code blocks or inline code spans (commands, config defaults like `2000`);
 * - a figure written as a bound or a goal: preceded by ≤, ≥, <, >, "at most", "at least", "up to",
 *   "within", "after", "every", "target", "below", "above", "under", "over", "beyond" (a design value
 *   such as "waits at most 250 ms", or a target such as "≤ 1.3×");
 * - docs/results/, which is generated from the results themselves.
 * A figure matches when some number in bench/results/ (JSON or Markdown) or docs/results/ rounds to it
 * at the precision the doc writes it with (`148 ms` matches 148.4; `1.55×` matches 1.549). That is
 * permissive for whole numbers in a large results set; it still catches a figure no run produced.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(__dirname, '..', '..');

interface Figure {
  text: string;
  value: number;
  decimals: number;
  line: number;
}

const BOUND =
  /(?:≤|≥|<|>|\bat most|\bat least|\bup to|\bwithin|\bafter|\bevery|\btargets?|\bbelow|\babove|\bunder|\bover|\bbeyond)\s*(?:about\s+|≈\s*)?$/i;
const NUMBER = String.raw`\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?`;
const RATIO = new RegExp(String.raw`(?<![\d.,])(${NUMBER})×`, 'g');
const MILLIS = new RegExp(String.raw`(?<![\d.,])(${NUMBER})(?:\s?[–-]\s?(${NUMBER}))?\s?ms\b`, 'g');

function parse(text: string): { value: number; decimals: number } {
  const plain = text.replaceAll(',', '');
  return { value: Number(plain), decimals: plain.includes('.') ? plain.split('.')[1]!.length : 0 };
}

/** The measured figures a Markdown text quotes (fenced blocks, code spans and bounds left out). */
function quotedFigures(markdown: string): Figure[] {
  const figures: Figure[] = [];
  let fenced = false;
  markdown.split('\n').forEach((raw, i) => {
    if (/^\s*```/.test(raw)) {
      fenced = !fenced;
      return;
    }
    if (fenced) return;
    const line = raw.replace(/`[^`]*`/g, (m) => ' '.repeat(m.length));
    const add = (number: string, unit: string, at: number) => {
      if (BOUND.test(line.slice(Math.max(0, at - 24), at))) return;
      figures.push({ text: `${number}${unit}`, ...parse(number), line: i + 1 });
    };
    for (const m of line.matchAll(RATIO)) add(m[1]!, '×', m.index);
    for (const m of line.matchAll(MILLIS)) {
      add(m[1]!, ' ms', m.index);
      if (m[2]) add(m[2], ' ms', m.index);
    }
  });
  return figures;
}

/** Every number in a results text (JSON or Markdown; thousands separators read as such). */
function resultNumbers(text: string): number[] {
  return [...text.matchAll(new RegExp(NUMBER, 'g'))].map((m) => Number(m[0].replaceAll(',', '')));
}

/** The figures no result rounds to, at the precision each is written with. */
function unmatched(figures: readonly Figure[], results: readonly number[]): Figure[] {
  return figures.filter((f) => {
    const half = 0.5 * 10 ** -f.decimals + 1e-9;
    return !results.some((r) => Math.abs(r - f.value) <= half);
  });
}

function filesUnder(dir: string, keep: (f: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter(keep)
    .map((f) => join(dir, f));
}

describe('quoted figures (the checker itself)', () => {
  const results = resultNumbers('{"p50": 0.476, "ratio": 1.549}\n| greet | 148.4 ms | 1,374 |');

  it('finds ratios and milliseconds, ranges and thousands separators included', () => {
    const found = quotedFigures('p50 0.48 ms, 1.55× the floor; 18–35 ms; 1,374 ms').map((f) => f.text);
    assert.deepEqual(found, ['1.55×', '0.48 ms', '18 ms', '35 ms', '1,374 ms']);
  });

  it('leaves out code, fenced blocks and figures written as bounds or targets', () => {
    const md = 'waits at most 250 ms, target ≤ 1.3×, within 150 ms, `2000 ms`\n```sh\nsleep 5 # 12 ms\n```\nafter 200 ms';
    assert.deepEqual(quotedFigures(md), []);
  });

  it('accepts a figure some result rounds to', () => {
    assert.deepEqual(unmatched(quotedFigures('1.55× and 148 ms and 0.48 ms and 1,374 ms'), results), []);
  });

  it('catches a made-up figure', () => {
    const bad = unmatched(quotedFigures('greet p50 is 0.8 ms, 1.56× the floor, 149 ms cold'), results);
    assert.deepEqual(
      bad.map((f) => f.text),
      ['1.56×', '0.8 ms', '149 ms'],
    );
  });
});

describe('README and docs', () => {
  const docs = [join(ROOT, 'README.md'), ...filesUnder(join(ROOT, 'docs'), (f) => f.endsWith('.md') && !f.startsWith('results'))];
  const resultFiles = [
    ...filesUnder(join(ROOT, 'bench', 'results'), (f) => f.endsWith('.json') || f.endsWith('.md')),
    ...filesUnder(join(ROOT, 'docs', 'results'), (f) => f.endsWith('.json') || f.endsWith('.md')),
  ];

  it('have results to check against', () => {
    assert.ok(resultFiles.length > 0, 'no results files in bench/results/ or docs/results/');
  });

  it('quote only figures that the published results hold', () => {
    const results = resultFiles.flatMap((f) => resultNumbers(readFileSync(f, 'utf8')));
    const bad = docs.flatMap((file) =>
      unmatched(quotedFigures(readFileSync(file, 'utf8')), results).map((f) => `${relative(ROOT, file)}:${f.line}: ${f.text}`),
    );
    assert.deepEqual(bad, [], 'figures no results file holds: link to docs/results/ instead, or write a goal as "≤ N×"');
  });
});
