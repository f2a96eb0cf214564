/**
 * The handler module of a packaged function (copied into the zip by scripts/esbuild/code-cache.cjs as
 * functions/<name>.mjs, with the bundle's file name and named exports filled in). It compiles the CommonJS
 * bundle next to it with V8's code cache produced at package time, so the cold start skips parsing and
 * compiling what the package-time load already compiled.
 *
 * The cache is used only when its header matches this process (V8's own version, without the suffix
 * Node adds to it, so any Node release on that V8 can use it; architecture; the bundle's length) and its
 * payload's CRC-32 is intact; otherwise the bundle compiles as without a cache. V8 checks its version,
 * its flags (heap sizes included) and the source again and may still reject it (`cachedDataRejected`);
 * the CRC guards against a damaged payload, which V8 does not verify.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, Script } from 'node:vm';
import * as zlib from 'node:zlib';

const bundle = fileURLToPath(new URL('./__BUNDLE__', import.meta.url));
const source = readFileSync(bundle, 'utf8');

/** A V8 version without the embedder's suffix (`12.4.254.21-node.57` → `12.4.254.21`). */
const v8Core = (v) => String(v).split('-')[0];

/** The cache payload when it was made for this runtime and is intact, else why not. */
function readCache() {
  let raw;
  try {
    raw = readFileSync(`${bundle}.code-cache`);
  } catch {
    return { status: 'absent' };
  }
  try {
    const nl = raw.indexOf(10);
    const head = JSON.parse(raw.subarray(0, nl).toString('utf8'));
    if (v8Core(head.v8) !== v8Core(process.versions.v8) || head.arch !== process.arch || head.bundleLength !== source.length) {
      return { status: 'stale' };
    }
    const data = raw.subarray(nl + 1);
    // zlib.crc32 is in Node >= 20.15 and 22.2; without it the cache cannot be checked, so it is not used.
    if (typeof zlib.crc32 !== 'function' || zlib.crc32(data) !== head.crc32) return { status: 'corrupt' };
    return { status: 'used', data };
  } catch {
    return { status: 'corrupt' };
  }
}

const cache = readCache();
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  // The package step names the script as Lambda will (/var/task/…): V8 keeps the name in the cache it
  // writes, and a temp dir's name would make every package differ. At run time V8 takes this load's name.
  filename: globalThis[Symbol.for('consul-grpc-lambda.code-cache-script')] ?? bundle,
  // A dynamic import() inside the bundle (a dependency's `import('node:async_hooks')` when Lambda runs
  // invocations concurrently) goes to Node's own loader, as it would from a module; without this option
  // vm refuses it. Node prints an ExperimentalWarning the first time one runs.
  importModuleDynamically: constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  cachedData: cache.data,
});
const mod = { exports: {} };
script.runInThisContext()(mod.exports, createRequire(bundle), mod, bundle, dirname(bundle));

/** How this load used the code cache: used, rejected (by V8), stale (another Node), corrupt, absent. */
export const codeCacheStatus = cache.data && script.cachedDataRejected ? 'rejected' : cache.status;
// Read by the cold-start trace (COLD_START_TRACE=1, lib/runtime/cold-start-trace.ts), so a run in the
// emulator or in Lambda shows whether V8 took the cache.
globalThis[Symbol.for('consul-grpc-lambda.code-cache')] = codeCacheStatus;
/** The code cache of this load, for the package step (scripts/esbuild/code-cache.cjs); not called at run time. */
export const createCodeCache = () => script.createCachedData();
/* __EXPORTS__ */
