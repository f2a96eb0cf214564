/**
 * The import step of a cold start measured on its own: a packaged bundle, unpacked as Lambda
 * unpacks the zip, loaded in a fresh `node` as the Lambda runtime client loads a handler: the
 * functions' runtime Node (scripts/rie/runtime-node.ts) with the flags Lambda starts it with, so a
 * packaged V8 code cache is taken or refused as in the emulator.
 */
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { bundlePath, type PackagedFunction } from '../../scripts/rie/package-functions';
import { ensureRuntimeNode } from '../../scripts/rie/runtime-node';
import { extractZip } from '../../scripts/rie/zip';
import { join } from 'node:path';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- shared with the esbuild plugins, which are CommonJS
const { lambdaNodeArgs } = require('../../scripts/esbuild/lambda-node.cjs') as { lambdaNodeArgs: (memoryMb: number) => string[] };

/** Why `require` is not measured for a bundle, or undefined when it can be (a CommonJS `.js` bundle). */
export function requireSkipReason(bundle: string): string | undefined {
  return bundle.endsWith('.js') ? undefined : 'the bundles are ES modules (.mjs), which the runtime client loads by import()';
}

/** Unpacks `fn`'s zip into `dir`/`name` and returns the path of its handler bundle there. */
export function unpackBundle(fn: PackagedFunction, dir: string, name: string): string {
  extractZip(fn.zip, join(dir, name));
  return bundlePath(fn, join(dir, name));
}

/**
 * Ms to load `bundle` (of `fn`) in a fresh node as Lambda runs it (the runtime's Node, Lambda's flags for
 * the function's memory, its NODE_OPTIONS): by `import()`, as the Lambda runtime client loads a handler
 * (the ESM loader warmed first, as the client is itself ESM), or by `require`. The clock runs in the
 * child, around the load alone (node's own start is not in it).
 */
export function loadMs(bundle: string, how: 'import' | 'require', fn: PackagedFunction): number {
  const script =
    how === 'import'
      ? `import{performance as p}from'node:perf_hooks';await import('node:fs');const t=p.now();await import(${JSON.stringify(pathToFileURL(bundle).href)});process.stdout.write(String(p.now()-t))`
      : `const{performance:p}=require('node:perf_hooks');const t=p.now();require(${JSON.stringify(bundle)});process.stdout.write(String(p.now()-t))`;
  const args = [...lambdaNodeArgs(fn.memorySize), ...(how === 'import' ? ['--input-type=module', '-e', script] : ['-e', script])];
  const nodeOptions = fn.environment.NODE_OPTIONS;
  const r = spawnSync(ensureRuntimeNode(), args, {
    env: { PATH: process.env.PATH, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`${how} ${bundle} failed: ${r.stderr}`);
  const ms = Number(r.stdout);
  if (!Number.isFinite(ms)) throw new Error(`${how} ${bundle} printed no time: ${JSON.stringify(r.stdout)}`);
  return ms;
}
