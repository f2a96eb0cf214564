/**
 * The error tables in docs/http-api.md name every status and code that lib/http/error-response.ts
 * (table `## Errors`) and lib/http/rpc-error-response.ts (table `## Errors of the rpc route`) can
 * answer, so a new code cannot ship undocumented. The codes are read from the source's tables
 * (`{ status: N, code: 'X' }`), the places that map errors to HTTP.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(__dirname, '..', '..');

/** Every `status`/`code` pair an error table in `source` declares. */
function declaredAnswers(source: string): { status: number; code: string }[] {
  return [...source.matchAll(/status:\s*(\d{3}),\s*code:\s*'([A-Z_]+)'/g)].map((m) => ({ status: Number(m[1]), code: m[2]! }));
}

/** The rows of the table under the heading `## <heading>` in `markdown`: status cell and code. */
function documentedAnswers(markdown: string, heading = 'Errors'): { status: number; code: string }[] {
  const section = markdown.split(/^(?=## )/m).find((s) => s.split('\n')[0]!.trim() === `## ${heading}`);
  if (!section) return [];
  return [...section.matchAll(/^\| (\d{3})[^|]*\| `([A-Z_]+)` \|/gm)].map((m) => ({ status: Number(m[1]), code: m[2]! }));
}

const missing = (declared: { status: number; code: string }[], documented: { status: number; code: string }[]) =>
  declared.filter((d) => !documented.some((r) => r.status === d.status && r.code === d.code)).map((d) => `${d.status} ${d.code}`);

describe('the error table', () => {
  it('is read from the source and the doc as pairs, and misses are named', () => {
    const source = `a: { status: 405, code: 'METHOD_NOT_ALLOWED' }, b: { status: 418, code: 'TEAPOT', log: 'warn' }`;
    const doc = '## Errors\n\n| status | code | when |\n|---|---|---|\n| 405 | `METHOD_NOT_ALLOWED` | no route |\n| 500 | `TEAPOT` | x |\n';
    assert.deepEqual(missing(declaredAnswers(source), documentedAnswers(doc)), ['418 TEAPOT']);
  });

  it('in docs/http-api.md holds every status and code of lib/http/error-response.ts', () => {
    const declared = declaredAnswers(readFileSync(join(ROOT, 'lib', 'http', 'error-response.ts'), 'utf8'));
    assert.ok(
      declared.some((d) => d.code === 'METHOD_NOT_ALLOWED'),
      'the source tables were read',
    );
    const documented = documentedAnswers(readFileSync(join(ROOT, 'docs', 'http-api.md'), 'utf8'));
    assert.deepEqual(missing(declared, documented), []);
  });

  it('in docs/http-api.md, under "Errors of the rpc route", holds every status and code of lib/http/rpc-error-response.ts', () => {
    const declared = declaredAnswers(readFileSync(join(ROOT, 'lib', 'http', 'rpc-error-response.ts'), 'utf8'));
    assert.ok(
      declared.some((d) => d.code === 'NOT_IMPLEMENTED'),
      'the source table was read',
    );
    const documented = documentedAnswers(readFileSync(join(ROOT, 'docs', 'http-api.md'), 'utf8'), 'Errors of the rpc route');
    assert.deepEqual(missing(declared, documented), []);
  });

  it('reads only the table under the heading asked for', () => {
    const doc = '## Errors\n\n| 404 | `NOT_FOUND` | x |\n\n## Errors of the rpc route\n\n| 501 | `NOT_IMPLEMENTED` | y |\n';
    assert.deepEqual(documentedAnswers(doc), [{ status: 404, code: 'NOT_FOUND' }]);
    assert.deepEqual(documentedAnswers(doc, 'Errors of the rpc route'), [{ status: 501, code: 'NOT_IMPLEMENTED' }]);
  });
});
