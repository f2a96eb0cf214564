/**
 * Every relative link in README.md and docs/*.md points at a file that exists and, with a
 * `#fragment`, at a heading of that file (GitHub's anchor rule: lower case, punctuation dropped,
 * spaces to hyphens), so moving a section cannot leave a dangling link.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(__dirname, '..', '..');

/** GitHub's anchor of a heading text. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of every heading outside fenced blocks. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    else if (!fenced && /^#{1,6} /.test(line)) out.add(anchor(line.replace(/^#+ /, '')));
  }
  return out;
}

/** `[text](target)` links outside fenced blocks and code spans that are not absolute URLs. */
function relativeLinks(markdown: string): { target: string; line: number }[] {
  const links: { target: string; line: number }[] = [];
  let fenced = false;
  markdown.split('\n').forEach((raw, i) => {
    if (/^\s*```/.test(raw)) fenced = !fenced;
    if (fenced) return;
    const line = raw.replace(/`[^`]*`/g, '');
    for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) if (!/^[a-z]+:/.test(m[1]!)) links.push({ target: m[1]!, line: i + 1 });
  });
  return links;
}

/** The links of `file` that resolve to no file, or to no heading of it. */
function broken(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return relativeLinks(text)
    .filter(({ target }) => {
      const [path, fragment] = target.split('#') as [string, string | undefined];
      const dest = path ? join(dirname(file), path) : file;
      if (!existsSync(dest)) return true;
      if (fragment === undefined || statSync(dest).isDirectory() || !dest.endsWith('.md')) return false;
      return !anchors(readFileSync(dest, 'utf8')).has(fragment);
    })
    .map(({ target, line }) => `${relative(ROOT, file)}:${line}: ${target}`);
}

describe('links in the docs', () => {
  it('anchors headings as GitHub does', () => {
    assert.equal(anchor('Greeters outside the mesh (`greeterTransport = tls`)'), 'greeters-outside-the-mesh-greetertransport--tls');
    assert.equal(anchor('5 One invocation in the Lambda emulator'), '5-one-invocation-in-the-lambda-emulator');
    assert.deepEqual([...anchors('# A\n```\n# not a heading\n```\n## Consul K/V: health-sync')], ['a', 'consul-kv-health-sync']);
  });

  it('finds links to a missing file or heading', () => {
    const links = relativeLinks('[a](docs/x.md#y) `[b](no.md)` [c](https://example.com)');
    assert.deepEqual(links, [{ target: 'docs/x.md#y', line: 1 }]);
  });

  it('resolve, in README.md and docs/*.md', () => {
    const docs = [
      join(ROOT, 'README.md'),
      ...readdirSync(join(ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => join(ROOT, 'docs', f)),
    ];
    assert.deepEqual(docs.flatMap(broken), []);
  });
});
