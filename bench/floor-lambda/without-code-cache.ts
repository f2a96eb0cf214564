/**
 * A variant of a packaged function without its V8 code cache (scripts/esbuild/code-cache.cjs): the
 * same zip less the `.code-cache` files, so the handler compiles the bundle as a runtime with another
 * Node version would. bench/cold-start.bench.ts runs it beside the packaged greet to price the cache.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PackagedFunction } from '../../scripts/rie/package-functions';
import { extractZip } from '../../scripts/rie/zip';

/** Repackages `fn` without its code cache files; undefined if it has none. */
export function withoutCodeCache(fn: PackagedFunction): { fn: PackagedFunction; remove(): void } | undefined {
  const dir = mkdtempSync(join(tmpdir(), `consul-grpc-lambda-nocache-${fn.name}-`));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const root = join(dir, 'root');
    const caches = extractZip(fn.zip, root).filter((f) => f.endsWith('.code-cache'));
    if (!caches.length) {
      remove();
      return undefined;
    }
    for (const f of caches) rmSync(join(root, f));
    const zip = join(dir, `${fn.name}-nocache.zip`);
    // Python's zipfile, as scripts/rie/zip.ts extracts with: each top-level entry is stored under its own name.
    execFileSync('python3', ['-m', 'zipfile', '-c', zip, ...readdirSync(root)], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
    return { fn: { ...fn, name: `${fn.name}-nocache`, zip }, remove };
  } catch (err) {
    remove();
    throw err;
  }
}

// scripts/esbuild/code-cache.cjs is CommonJS (serverless-esbuild requires it); its cache writer is reused here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { makeCodeCache } = require('../../scripts/esbuild/code-cache.cjs') as { makeCodeCache: (handler: string, bundle: string, eager: boolean) => boolean };

/** Repackages `fn` with the eager code cache (every function compiled) instead of the packaged lazy one. */
export function withEagerCodeCache(fn: PackagedFunction): { fn: PackagedFunction; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `consul-grpc-lambda-eagercache-${fn.name}-`));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const root = join(dir, 'root');
    extractZip(fn.zip, root);
    const base = join(root, fn.handler.slice(0, fn.handler.lastIndexOf('.')));
    if (!makeCodeCache(`${base}.mjs`, `${base}.bundle.cjs`, true)) throw new Error(`${fn.name}: the eager code cache is not used`);
    const zip = join(dir, `${fn.name}-eagercache.zip`);
    execFileSync('python3', ['-m', 'zipfile', '-c', zip, ...readdirSync(root)], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
    return { fn: { ...fn, name: `${fn.name}-eagercache`, zip }, remove };
  } catch (err) {
    remove();
    throw err;
  }
}
