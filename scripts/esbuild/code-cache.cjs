/**
 * esbuild plugin `code-cache` (serverless.yml `custom.esbuild.plugins`, through plugins.cjs), OPT-IN at
 * package time: `CODE_CACHE=1 npx serverless package` (the lazy cache) or `CODE_CACHE=eager` (every
 * function compiled). Then each function ships as a CommonJS bundle (functions/<name>.bundle.cjs), V8's
 * code cache of it made at package time (functions/<name>.bundle.cjs.code-cache) and a small ES module
 * handler (functions/<name>.mjs, from code-cache-loader.mjs) that compiles the bundle with that cache.
 * Without CODE_CACHE the plugin is not loaded and each function is the plain ES module bundle
 * functions/<name>.mjs that custom.esbuild describes.
 *
 * Why it is off by default:
 * - The cache is not reproducible. V8 seeds its string hash with a random number per process, and the
 *   seed shapes the cache, so two packages of the same commit differ; a fixed --hash-seed makes them
 *   equal, but a normally started runtime then refuses that cache. A different zip on every package
 *   makes `serverless deploy` publish new code for unchanged sources and recycle every execution
 *   environment (test/integration/deploy-moto.test.ts checks a repackage changes nothing).
 * - It helps only when the packaging Node runs the runtime's V8 version: its header names the V8 version
 *   and V8 refuses a cache from another one. Packaging on Node 20 for nodejs22.x ships a cache Lambda skips.
 * So turn it on for a release packaged on the runtime's Node (nodejs22.x → Node 22), where the cold
 * start gains (below) are worth a new code version per package.
 *
 * Why it exists: on a cold start Node spent about a third of loading greet parsing and compiling the
 * 550 KB bundle (docs/performance.md, "Code cache"); with the cache, loading costs about what
 * @grpc/grpc-js alone does. The handler stays an ES module, so the runtime client's import() never runs
 * cjs-module-lexer over the bundle, and the bundle is not require()d either.
 *
 * The cache is made by the Node that packages, after loading the bundle: it holds the functions the
 * bundle's top-level code compiled (eager: all of them). A runtime on another V8 version (or
 * architecture) ignores it and compiles as without one.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS: serverless-esbuild require()s the plugins */
const { execFileSync } = require('node:child_process');
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { basename, extname, join } = require('node:path');
const zlib = require('node:zlib');

const LOADER = join(__dirname, 'code-cache-loader.mjs');
const IDENT = /^[A-Za-z_$][\w$]*$/;

/** Runs `code` in a clean node (no NODE_PATH: the bundle must load on its own) and returns its stdout. */
function node(code, cwd, input) {
  return execFileSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd,
    env: { PATH: process.env.PATH },
    input,
    stdio: ['pipe', 'pipe', 'inherit'],
    timeout: 60_000,
    maxBuffer: 64 << 20,
  });
}

/** Turns the built file `out` (CommonJS) into bundle + loader + code cache (`eager`: every function compiled). */
function withCodeCache(out, eager) {
  const dir = join(out, '..');
  const name = basename(out, extname(out));
  const bundleFile = `${name}.bundle.cjs`;
  const bundle = join(dir, bundleFile);
  renameSync(out, bundle);
  const keys = JSON.parse(
    node(
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
  if (!makeCodeCache(out, bundle, eager))
    throw new Error(`${out}: this Node (${process.version}) refuses the ${eager ? 'eager' : 'lazy'} code cache it made`);
}

/** The code cache asked for by a CODE_CACHE value: off (unset, '', 0), lazy (1) or eager; anything else throws. */
function codeCacheMode(value) {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === '0' || v === 'false') return 'off';
  if (v === '1' || v === 'true' || v === 'lazy') return 'lazy';
  if (v === 'eager') return 'eager';
  throw new Error(`CODE_CACHE=${value}: expected 1 (lazy code cache), eager, or unset (no code cache)`);
}

/**
 * Writes the code cache of `bundle` as loaded by its handler module `handler`; true if a fresh load uses it.
 * `eager` compiles every function into it (V8 keys a cache to its flags, so --lazy is restored before the
 * cache is written); otherwise it holds what the bundle's top level compiled.
 */
function makeCodeCache(handler, bundle, eager) {
  const dir = join(handler, '..');
  const url = JSON.stringify(new URL(`file://${handler}`).href);
  const load = `const m=await import(${url});`;
  const write = 'process.stdout.write(m.createCodeCache())';
  const data = node(
    eager
      ? `import v8 from 'node:v8';v8.setFlagsFromString('--no-lazy');${load}v8.setFlagsFromString('--lazy');${write}`
      : `${load}${write}`,
    dir,
  );
  const head = {
    v8: process.versions.v8,
    node: process.version,
    arch: process.arch,
    eager,
    bundleLength: readFileSync(bundle, 'utf8').length,
    crc32: zlib.crc32(data),
  };
  writeFileSync(`${bundle}.code-cache`, Buffer.concat([Buffer.from(`${JSON.stringify(head)}\n`), data]));
  return node(`const m=await import(${url});process.stdout.write(m.codeCacheStatus)`, dir).toString() === 'used';
}

/** The plugin for `mode` 'lazy' or 'eager' (codeCacheMode); plugins.cjs adds it only when CODE_CACHE asks. */
function codeCachePlugin(mode) {
  return {
    name: 'code-cache',
    setup(build) {
      const o = build.initialOptions;
      // CommonJS for vm.Script; the ESM banner's createRequire(import.meta.url) has no place in it.
      o.format = 'cjs';
      delete o.banner;
      build.onEnd((result) => {
        if (result.errors.length || !o.outdir) return;
        const ext = (o.outExtension && o.outExtension['.js']) || '.js';
        for (const e of [].concat(o.entryPoints || [])) {
          const entry = typeof e === 'string' ? e : e.in;
          withCodeCache(join(o.outdir, `${basename(entry, extname(entry))}${ext}`), mode === 'eager');
        }
      });
    },
  };
}

module.exports = { codeCacheMode, codeCachePlugin, makeCodeCache };
