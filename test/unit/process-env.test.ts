import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

// lib/ reads its environment in one module, so every variable a function depends on is named, typed and
// documented there; the rest of lib/ gets values from its readers. Read through the syntax tree, so a comment
// or a string that mentions process.env does not count, and `process['env']` or `const { env } = process` does.
const ROOT = join(__dirname, '..', '..');
const ALLOWED = new Set(['lib/config/environment.ts']);

/** The 1-based lines of `source` that read `process.env` (any spelling the tree shows). */
function processEnvReads(source: string, fileName = 'sample.ts'): number[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const lines: number[] = [];
  const isProcess = (n: ts.Node) =>
    (ts.isIdentifier(n) && n.text === 'process') || (ts.isPropertyAccessExpression(n) && n.name.text === 'process');
  const visit = (node: ts.Node): void => {
    const hit =
      (ts.isPropertyAccessExpression(node) && node.name.text === 'env' && isProcess(node.expression)) ||
      (ts.isElementAccessExpression(node) &&
        isProcess(node.expression) &&
        ts.isStringLiteralLike(node.argumentExpression) &&
        node.argumentExpression.text === 'env') ||
      (ts.isVariableDeclaration(node) &&
        node.initializer !== undefined &&
        isProcess(node.initializer) &&
        ts.isObjectBindingPattern(node.name) &&
        node.name.elements.some((e) => ((e.propertyName ?? e.name) as ts.Node).getText(file) === 'env'));
    if (hit) lines.push(file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return lines;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

describe('process.env in lib/', () => {
  it('is read only by lib/config/environment.ts', () => {
    const offenders = tsFiles(join(ROOT, 'lib')).flatMap((path) => {
      const name = relative(ROOT, path).split('\\').join('/');
      if (ALLOWED.has(name)) return [];
      return processEnvReads(readFileSync(path, 'utf8'), name).map((line) => `${name}:${line}`);
    });
    assert.deepEqual(offenders, [], `read the variable through a reader exported by lib/config/environment.ts`);
  });

  it('is found in every spelling, and not in comments or strings', () => {
    assert.deepEqual(processEnvReads('const a = process.env.FOO;'), [1]);
    assert.deepEqual(processEnvReads('export function f(env = process.env) {\n  return env;\n}'), [1]);
    assert.deepEqual(processEnvReads("const a = 1;\nconst b = process['env'].X;"), [2]);
    assert.deepEqual(processEnvReads('const { env } = process;'), [1]);
    assert.deepEqual(processEnvReads('const v = globalThis.process.env.X;'), [1]);
    assert.deepEqual(processEnvReads('/** `process.env.X`: read elsewhere */\n// process.env.Y\nconst s = "process.env.Z";'), []);
    assert.deepEqual(processEnvReads('const env = { a: 1 };\nconst x = other.env;'), []);
  });
});
