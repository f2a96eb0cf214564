/**
 * esbuild plugin `code-cache` (serverless.yml `custom.esbuild.plugins`, through plugins.cjs), ON by
 * default: each function ships as a CommonJS bundle (functions/<name>.bundle.cjs), V8's code cache of
 * it made at package time (functions/<name>.bundle.cjs.code-cache) and a small ES module handler
 * (functions/<name>.mjs, from code-cache-loader.mjs) that compiles the bundle with that cache.
 * `CODE_CACHE=0` packages the plain ES module bundle functions/<name>.mjs instead; `CODE_CACHE=eager`
 * compiles every function into the cache.
 *
 * Why: on a cold start Node spent about a third of loading greet parsing and compiling the bundle
 * (docs/performance.md, "Code cache"); with the cache, loading costs about what @grpc/grpc-js alone does.
 * The handler stays an ES module, so the runtime client's import() never runs cjs-module-lexer over the
 * bundle, and the bundle is not require()d either.
 *
 * V8 uses a cache only on the V8 version that made it and under the same V8 flags, heap sizes included.
 * So the cache is made by the pinned Node of the functions' runtime (scripts/rie/runtime-node.ts, Node 22
 * for nodejs22.x), not by the Node that runs the tooling, started as Lambda's bootstrap starts it for
 * that function's memory (lambda-node.cjs). A runtime on another V8, or with other flags, refuses the
 * cache and compiles as without one (test/integration/code-cache.test.ts).
 *
 * Reproducible: V8 seeds its string hashes from its random seed, and the seed shapes the cache, so the
 * package-time load runs with a fixed --random-seed. V8 leaves that flag out of the flags a cache is
 * keyed to (a fixed --hash-seed would be in them, and a normal runtime would refuse the cache), so the
 * same commit packages to the same bytes and `serverless deploy` of unchanged code publishes nothing.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS: serverless-esbuild require()s the plugins */
const { execFileSync } = require('node:child_process');
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { basename, extname, join, relative, resolve, sep } = require('node:path');
const zlib = require('node:zlib');
const { lambdaNodeArgs } = require('./lambda-node.cjs');

const LOADER = join(__dirname, 'code-cache-loader.mjs');
const IDENT = /^[A-Za-z_$][\w$]*$/;
// Any fixed value: it only has to be the same on every package.
const RANDOM_SEED = '--random-seed=20260';

/**
 * How a cache is made for one function: the command that runs its runtime's Node here (for another
 * architecture, through an emulator), that Node's architecture and versions, and the arguments Lambda's bootstrap
 * gives it (lambdaNodeArgs of its memory).
 * @typedef {{ node: string[], arch: string, versions: { node: string, v8: string }, args: string[] }} CacheRuntime
 */

/** Runs `code` in a clean `rt.node` started with `args` (no NODE_PATH: the bundle must load on its own) and returns its stdout. */
function node(rt, args, code, cwd) {
  const [command, ...prefix] = rt.node;
  return execFileSync(command, [...prefix, ...args, '--input-type=module', '-e', code], {
    cwd,
    env: { PATH: process.env.PATH },
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 60_000,
    maxBuffer: 64 << 20,
  });
}

/** Turns the built file `out` (CommonJS) into bundle + loader + code cache for `rt` (`eager`: every function compiled). */
function withCodeCache(out, eager, rt) {
  const dir = join(out, '..');
  const name = basename(out, extname(out));
  const bundleFile = `${name}.bundle.cjs`;
  const bundle = join(dir, bundleFile);
  renameSync(out, bundle);
  const keys = JSON.parse(
    node(
      rt,
      rt.args,
      `import{createRequire}from'node:module';console.log(JSON.stringify(Object.keys(createRequire(${JSON.stringify(bundle)})(${JSON.stringify(bundle)}))))`,
      dir,
    ).toString(),
  );
  const names = keys.filter((k) => IDENT.test(k) && k !== 'default');
  const exportsLine = names.length ? `export const { ${names.join(', ')} } = mod.exports;` : '';
  writeFileSync(out, readFileSync(LOADER, 'utf8').replace('__BUNDLE__', bundleFile).replace('/* __EXPORTS__ */', exportsLine));
  // The lazy cache (what the top level compiles) unless asked for the eager one (every function, 3× the
  // size): in the same runs the eager one loaded slower (1.36× grpc-js against ~1.15×) and held more
  // memory, and the cold start as a whole came out the same (bench/cold-start.bench.ts runs both).
  const status = makeCodeCache(out, bundle, eager, rt);
  if (status !== 'used')
    throw new Error(`${out}: the runtime's Node (${rt.node.join(' ')} ${rt.args.join(' ')}) finds the code cache it made ${status}`);
}

/** The code cache asked for by a CODE_CACHE value: lazy (unset, 1: the default), eager, or off (0); anything else throws. */
function codeCacheMode(value) {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === '1' || v === 'true' || v === 'lazy') return 'lazy';
  if (v === '0' || v === 'false' || v === 'off') return 'off';
  if (v === 'eager') return 'eager';
  throw new Error(`CODE_CACHE=${value}: expected unset or 1 (lazy code cache, the default), eager, or 0 (no code cache)`);
}

/**
 * Writes the code cache of `bundle` as loaded by its handler module `handler` in `rt`, and returns how a
 * fresh load in `rt` (without the fixed seed) takes it: 'used' when all is well. `eager` compiles every
 * function into it (V8 keys a cache to its flags, so --lazy is restored before the cache is written);
 * otherwise it holds what the bundle's top level compiled.
 */
function makeCodeCache(handler, bundle, eager, rt) {
  const dir = join(handler, '..');
  const url = JSON.stringify(new URL(`file://${handler}`).href);
  // The name Lambda's load will give the script (LAMBDA_TASK_ROOT is /var/task), fixed so that the cache
  // does not carry this temp dir's name (code-cache-loader.mjs).
  const scriptName = JSON.stringify(`/var/task/${basename(dir)}/${basename(bundle)}`);
  const load = `globalThis[Symbol.for('consul-grpc-lambda.code-cache-script')]=${scriptName};const m=await import(${url});`;
  const write = 'process.stdout.write(m.createCodeCache())';
  const data = node(
    rt,
    [...rt.args, RANDOM_SEED],
    eager
      ? `import v8 from 'node:v8';v8.setFlagsFromString('--no-lazy');${load}v8.setFlagsFromString('--lazy');${write}`
      : `${load}${write}`,
    dir,
  );
  const head = {
    v8: rt.versions.v8,
    node: `v${rt.versions.node}`,
    arch: rt.arch,
    flags: rt.args.filter((a) => a.startsWith('--max-') && a.includes('space')).join(' '),
    eager,
    bundleLength: readFileSync(bundle, 'utf8').length,
    crc32: zlib.crc32(data),
  };
  writeFileSync(`${bundle}.code-cache`, Buffer.concat([Buffer.from(`${JSON.stringify(head)}\n`), data]));
  return node(rt, rt.args, `const m=await import(${url});process.stdout.write(m.codeCacheStatus)`, dir).toString();
}

/** The serverless function (by its handler's file) an esbuild entry point builds, or undefined. */
function functionOfEntry(entry, functions) {
  const base = relative(process.cwd(), resolve(entry)).slice(0, -extname(entry).length).split(sep).join('/');
  return Object.values(functions).find(
    (f) => f && typeof f.handler === 'string' && f.handler.slice(0, f.handler.lastIndexOf('.')) === base,
  );
}

/**
 * The plugin for `mode` 'lazy' or 'eager' (codeCacheMode). `runtimeOf(entry)` gives the CacheRuntime of the
 * function an entry point builds (plugins.cjs reads it from the service: runtime, memory size), or
 * undefined when that function gets no cache: its build is then left the plain ES module bundle.
 */
function codeCachePlugin(mode, runtimeOf) {
  return {
    name: 'code-cache',
    setup(build) {
      const o = build.initialOptions;
      const entries = [].concat(o.entryPoints || []).map((e) => (typeof e === 'string' ? e : e.in));
      const runtimes = entries.map((entry) => runtimeOf(entry));
      if (runtimes.some((rt) => rt === undefined)) return;
      // CommonJS for vm.Script; the ESM banner's createRequire(import.meta.url) has no place in it.
      o.format = 'cjs';
      delete o.banner;
      build.onEnd((result) => {
        if (result.errors.length || !o.outdir) return;
        const ext = (o.outExtension && o.outExtension['.js']) || '.js';
        entries.forEach((entry, i) =>
          withCodeCache(join(o.outdir, `${basename(entry, extname(entry))}${ext}`), mode === 'eager', runtimes[i]),
        );
      });
    },
  };
}

/** The CacheRuntime of a function of `memoryMb` MB on the Node for `arch` (its `process.versions`) that the command `node` runs. */
function cacheRuntime(node, arch, versions, memoryMb) {
  return { node, arch, versions, args: lambdaNodeArgs(memoryMb) };
}

module.exports = { cacheRuntime, codeCacheMode, codeCachePlugin, functionOfEntry, makeCodeCache };
