/**
 * `npm run bench:bundle`: what each packaged function costs before it does any work.
 * - Size: the minified bundle in each zip, as `serverless package` builds it.
 * - Load time: median of fresh processes of the runtime's Node (scripts/rie/runtime-node.ts), started
 *   with the flags Lambda gives the function's memory, timing the import the runtime client does, in
 *   rounds that interleave every function of the default package (bundle + V8 code cache + loader,
 *   scripts/esbuild/code-cache.cjs) with a baseline bundle of `@grpc/grpc-js` alone (same esbuild
 *   settings, no cache: grpc-js as anyone would load it), so machine noise hits both alike; in the same
 *   rounds each function packaged as the plain ES module bundle (CODE_CACHE=0, `plainBundles` in the
 *   result), and greet with `--enable-source-maps` and a linked map, to price the source map.
 * - Error path: the first unexpected error (logged with its stack) with and without maps.
 * - Memory: RSS of a process (the runtime's Node) holding the packaged greet after 200 invocations against
 *   a real Consul and Greeter, against a process holding grpc-js alone with one channel
 *   after 200 calls; and the peak RSS of greet's runtime in the Lambda emulator.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { startLambdaRie } from '../scripts/rie/lambda-rie';
import { ensureRuntimeNode } from '../scripts/rie/runtime-node';
import { pathToFileURL } from 'node:url';
import { bundleCodePath, bundlePath, packageFunctions, type PackagedFunction } from '../scripts/rie/package-functions';
import { extractZip } from '../scripts/rie/zip';
import { startFunctionStack } from '../scripts/stack/function-stack';
import { httpEvent } from '../scripts/support/lambda-events';
import { ratio, round, runMain, stats } from './measure';
import { writeResult, type BundleResult } from './results';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const INVOCATIONS = 200;
const RESULT = 'BENCH_RESULT ';
/** The memory of the functions the baseline and the source-map probes stand beside (greet's). */
const GREET_MB = 128;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- shared with the esbuild plugins, which are CommonJS
const { lambdaNodeArgs } = require('../scripts/esbuild/lambda-node.cjs') as { lambdaNodeArgs: (memoryMb: number) => string[] };
const NODE = ensureRuntimeNode();
const RUNTIME_NODE_VERSION = execFileSync(NODE, ['--version']).toString().trim();

/** Runs `code` in a fresh runtime Node, started as Lambda starts a function of `memoryMb`, and returns the JSON it prints after RESULT. */
function probe(code: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, memoryMb = GREET_MB): Record<string, number> {
  const out = execFileSync(NODE, [...lambdaNodeArgs(memoryMb), ...args, '-e', code], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
    maxBuffer: 64 << 20,
  }).toString();
  return parseResult(out);
}

function parseResult(out: string): Record<string, number> {
  const line = out.split('\n').find((l) => l.startsWith(RESULT));
  if (!line) throw new Error(`no result in child output:\n${out.slice(-2000)}`);
  return JSON.parse(line.slice(RESULT.length)) as Record<string, number>;
}

/**
 * The bundle as the Lambda runtime client loads it, with import() (an .mjs bundle as its module, a
 * CommonJS one through its default export); `expr` is an expression for the loaded exports.
 */
const load = (file: string) => `(await import(${JSON.stringify(pathToFileURL(file).href)}))`;
const exportsOf = (file: string) => `((m)=>m.default??m)(${load(file)})`;

/** Wall time of loading the bundle, and its CPU time (steadier when other work shares the machine). */
const requireProbe = (file: string) =>
  `(async()=>{const c0=process.cpuUsage(),t=performance.now();${load(file)};const ms=performance.now()-t,c=process.cpuUsage(c0);
console.log(${JSON.stringify(RESULT)}+JSON.stringify({ms,cpuMs:(c.user+c.system)/1000,rssMb:process.memoryUsage().rss/2**20}))})()`;

/**
 * An unexpected error inside the handler (a throwing event getter), answered 500, then its stack
 * read as a crash report or an uncaught exception prints it: where --enable-source-maps maps frames.
 */
const errorProbe = (file: string) => `(async()=>{const h=${exportsOf(file)}.handler;
const ctx={awsRequestId:'r',functionName:'greet',getRemainingTimeInMillis:()=>5000};
let err;const ev={get requestContext(){throw (err=new Error('boom'))}};
const t=performance.now();h(ev,ctx).then(r=>{if(r.statusCode!==500)throw new Error('expected 500, got '+r.statusCode);
if(!String(err.stack).includes('boom'))throw new Error('no stack');
console.log(${JSON.stringify(RESULT)}+JSON.stringify({ms:performance.now()-t}))})})()`;

/** 200 sequential greet invocations through the packaged handler; RSS after, and peak (VmHWM). */
const greetRssProbe = (file: string, event: unknown) => `const ev=${JSON.stringify(event)};
(async()=>{const h=${exportsOf(file)}.handler;for(let i=0;i<${INVOCATIONS};i++){const r=await h(ev,{awsRequestId:'r'+i,functionName:'greet',getRemainingTimeInMillis:()=>5000});
if(r.statusCode!==200)throw new Error('greet answered '+r.statusCode+' '+r.body)}
${rssTail}})().catch(e=>{console.error(e);process.exit(1)})`;

/** grpc-js alone: one channel, 200 SayHello calls with hand-encoded bytes (no codegen in the baseline). */
const grpcRssProbe = (file: string, port: number) => `(async()=>{const g=${exportsOf(file)};
const C=g.makeGenericClientConstructor({sayHello:{path:'/helloworld.Greeter/SayHello',requestStream:false,responseStream:false,
requestSerialize:b=>b,requestDeserialize:b=>b,responseSerialize:b=>b,responseDeserialize:b=>b}},'Greeter');
const c=new C('127.0.0.1:${port}',g.credentials.createInsecure());
const call=(n)=>new Promise((ok,ko)=>c.sayHello(Buffer.concat([Buffer.from([10,n.length]),Buffer.from(n)]),{deadline:Date.now()+2000},(e,r)=>e?ko(e):ok(r)));
for(let i=0;i<${INVOCATIONS};i++)await call('bench'+i);
${rssTail}})().catch(e=>{console.error(e);process.exit(1)})`;

const rssTail = `const hwm=Number(/VmHWM:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status','utf8'))[1])/1024;
console.log(${JSON.stringify(RESULT)}+JSON.stringify({rssMb:process.memoryUsage().rss/2**20,peakMb:hwm}));process.exit(0)`;

function runAsync(code: string, env: NodeJS.ProcessEnv): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    execFile(
      NODE,
      [...lambdaNodeArgs(GREET_MB), '-e', code],
      { env: { PATH: process.env.PATH, ...env }, timeout: 120_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stderr.slice(-2000)}`));
        else resolve(parseResult(stdout));
      },
    );
  });
}

function shuffle<T>(xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

const round1 = (x: number) => round(x, 1);

/** The figure `key` a probe printed; throws when it printed none, so a probe that measured nothing fails the run. */
function figure(r: Record<string, number>, key: string): number {
  const v = r[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`a probe printed no ${key}: ${JSON.stringify(r)}`);
  return v;
}

async function main(): Promise<void> {
  const pkg = await packageFunctions({ codeCache: true });
  const plainPkg = await packageFunctions({ codeCache: false }).catch((err: unknown) => {
    pkg.remove();
    throw err;
  });
  const work = mkdtempSync(join(tmpdir(), 'bundle-bench-'));
  try {
    // Each function's zip extracted as Lambda would: the handler module is the loader, the code beside it.
    const fns = [...pkg.functions.values()].map((fn) => {
      const dir = join(work, fn.name);
      const files = extractZip(fn.zip, dir);
      const js = bundlePath(fn, dir);
      if (!existsSync(js)) throw new Error(`${fn.name}: no ${js} in its zip (${files.join(', ')})`);
      const code = bundleCodePath(fn, dir);
      if (code === js) throw new Error(`${fn.name}: the default package holds no code cache`);
      // Size: the bundle's code; its cache beside it.
      return {
        fn,
        js,
        map: files.some((f) => f.endsWith('.map')),
        bytes: statSync(code).size,
        cacheBytes: statSync(`${code}.code-cache`).size,
      };
    });
    // The same functions packaged with CODE_CACHE=0: the handler module is the plain ES module bundle.
    const plain = [...plainPkg.functions.values()].map((fn) => {
      const dir = join(work, 'plain', fn.name);
      extractZip(fn.zip, dir);
      const js = bundlePath(fn, dir);
      if (bundleCodePath(fn, dir) !== js) throw new Error(`${fn.name}: CODE_CACHE=0 packaged a code cache`);
      return { fn, js, bytes: statSync(js).size };
    });
    const plainKey = (name: string) => `${name} (CODE_CACHE=0)`;
    // The baseline: grpc-js bundled alone with the deploy's esbuild settings (no source map).
    const options = { ...pkg.esbuild, sourcemap: false, metafile: false, logLevel: 'error' as const };
    mkdirSync(join(work, 'grpc-js'));
    const entry = join(work, 'grpc-js', 'entry.js');
    writeFileSync(entry, "module.exports = require('@grpc/grpc-js');\n");
    // Same module format as the deployed bundles (.mjs for an ES module build).
    const ext = options.format === 'esm' ? '.mjs' : '.js';
    const grpcJs = join(work, 'grpc-js', `index${ext}`);
    await build({ ...options, entryPoints: [entry], outfile: grpcJs, nodePaths: [join(__dirname, '..', 'node_modules')] });
    const grpcBytes = statSync(grpcJs).size;

    // Greet as deployed but with a linked source map (`external` writes a map that no comment points
    // to, so Node never uses it), to price what --enable-source-maps costs when it does map.
    const greet = fns.find((f) => f.fn.name === 'greet');
    if (!greet) throw new Error('no greet function in the package');
    const mapped = join(work, 'greet-mapped', `greet${ext}`);
    mkdirSync(join(work, 'greet-mapped'));
    await build({ ...options, entryPoints: [join(__dirname, '..', 'functions', 'greet.ts')], outfile: mapped, sourcemap: 'linked' });

    // RSS right after require: each bundle's static footprint (the last round's figure).
    const loadedRss = new Map<string, number>();
    const cpu = new Map<string, number[]>();
    const requireTime = (key: string, file: string, args: string[] = [], memoryMb = GREET_MB) => {
      const r = probe(requireProbe(file), args, {}, memoryMb);
      loadedRss.set(key, figure(r, 'rssMb'));
      cpu.set(key, [...(cpu.get(key) ?? []), figure(r, 'cpuMs')]);
      return figure(r, 'ms');
    };
    const targets: Array<{ key: string; run: () => number }> = [
      { key: 'grpc-js', run: () => requireTime('grpc-js', grpcJs) },
      ...fns.map((f) => ({ key: f.fn.name, run: () => requireTime(f.fn.name, f.js, [], f.fn.memorySize) })),
      ...plain.map((f) => ({ key: plainKey(f.fn.name), run: () => requireTime(plainKey(f.fn.name), f.js, [], f.fn.memorySize) })),
      { key: 'greet (no map)', run: () => requireTime('greet (no map)', mapped) },
      { key: 'greet --enable-source-maps', run: () => requireTime('greet --enable-source-maps', mapped, ['--enable-source-maps']) },
      { key: 'error path', run: () => figure(probe(errorProbe(mapped), [], { POWERTOOLS_LOG_LEVEL: 'ERROR' }), 'ms') },
      {
        key: 'error path --enable-source-maps',
        run: () => figure(probe(errorProbe(mapped), ['--enable-source-maps'], { POWERTOOLS_LOG_LEVEL: 'ERROR' }), 'ms'),
      },
    ];
    const samples = new Map<string, number[]>(targets.map((t) => [t.key, []]));
    for (let r = 0; r < ROUNDS; r++) for (const t of shuffle(targets)) samples.get(t.key)?.push(t.run());
    const median = (k: string) => stats(samples.get(k) ?? [], `load times of ${k}`).p50;
    const grpcMs = median('grpc-js');
    const cpuMedian = (k: string) => stats(cpu.get(k) ?? [], `CPU times of ${k}`).p50;
    const grpcCpu = cpuMedian('grpc-js');

    // Memory against a real Consul and Greeter.
    const stack = await startFunctionStack('config/greeter-gateway/bench-bundle/');
    let memory: { greet: Record<string, number>; floor: Record<string, number>; riePeakMb?: number };
    try {
      const backend = await stack.addGreeter({ id: 'bundle-1' });
      const env = {
        CONSUL_HTTP_ADDR: stack.consul.address,
        CONSUL_HTTP_TOKEN: stack.gatewayToken,
        CONFIG_PREFIX: stack.prefix,
        POWERTOOLS_LOG_LEVEL: 'WARN',
        AWS_REGION: 'eu-west-1',
      };
      const floor = await runAsync(grpcRssProbe(grpcJs, backend.port), {});
      const inProcess = await runAsync(greetRssProbe(greet.js, httpEvent('GET', { name: 'Ada' })), { ...greet.fn.environment, ...env });
      memory = { greet: inProcess, floor, riePeakMb: await riePeak(greet.fn, env) };
    } finally {
      await stack.stop();
    }

    const greetRss = figure(memory.greet, 'rssMb');
    const floorRss = figure(memory.floor, 'rssMb');
    const result: BundleResult = {
      functions: fns.map((f) => ({
        name: f.fn.name,
        bytes: f.bytes,
        requireMs: round1(median(f.fn.name)),
        ...(f.fn.name === 'greet' ? { rssMb: round1(greetRss) } : {}),
      })),
      grpcJsAlone: { bytes: grpcBytes, requireMs: round1(grpcMs), rssMb: round1(floorRss) },
      requireRatios: Object.fromEntries(fns.map((f) => [f.fn.name, ratio(median(f.fn.name), grpcMs)])),
      requireCpuMs: Object.fromEntries(['grpc-js', ...fns.map((f) => f.fn.name)].map((k) => [k, round1(cpuMedian(k))])),
      requireCpuRatios: Object.fromEntries(fns.map((f) => [f.fn.name, ratio(cpuMedian(f.fn.name), grpcCpu)])),
      rssAfterRequireMb: Object.fromEntries([...loadedRss].map(([k, v]) => [k, round1(v)])),
      sourceMapInZip: Object.fromEntries(fns.map((f) => [f.fn.name, f.map])),
      runtimeNode: `${RUNTIME_NODE_VERSION}, started with Lambda's flags for each function's memory`,
      codeCacheBytes: Object.fromEntries(fns.map((f) => [f.fn.name, f.cacheBytes])),
      // The CODE_CACHE=0 package in the same rounds: the plain bundle's bytes and load time against grpc-js,
      // and what the default package's code cache saves against it.
      plainBundles: {
        functions: plain.map((f) => {
          const k = plainKey(f.fn.name);
          return {
            name: f.fn.name,
            bytes: f.bytes,
            requireMs: round1(median(k)),
            requireRatio: ratio(median(k), grpcMs),
            requireCpuMs: round1(cpuMedian(k)),
            requireCpuRatio: ratio(cpuMedian(k), grpcCpu),
            rssAfterRequireMb: round1(figure(Object.fromEntries(loadedRss), k)),
            codeCacheSavesMs: round1(median(k) - median(f.fn.name)),
          };
        }),
      },
      rounds: ROUNDS,
      memory: {
        invocations: INVOCATIONS,
        greetRssMb: round1(greetRss),
        greetPeakMb: round1(figure(memory.greet, 'peakMb')),
        floorRssMb: round1(floorRss),
        floorPeakMb: round1(figure(memory.floor, 'peakMb')),
        rssRatio: ratio(greetRss, floorRss),
        emulatorPeakMb: memory.riePeakMb,
      },
      sourceMaps: {
        mapBytes: statSync(`${mapped}.map`).size,
        requireMs: round1(median('greet (no map)')),
        requireWithMapsMs: round1(median('greet --enable-source-maps')),
        requireCpuMs: round1(cpuMedian('greet (no map)')),
        requireWithMapsCpuMs: round1(cpuMedian('greet --enable-source-maps')),
        errorPathMs: round1(median('error path')),
        errorPathWithMapsMs: round1(median('error path --enable-source-maps')),
      },
    };
    console.log(`\nBundles (${ROUNDS} rounds, medians; ratio = load time / grpc-js alone, same run)`);
    console.table([
      ...result.functions.map((f) => ({
        bundle: f.name,
        KB: Math.round(f.bytes / 1024),
        requireMs: f.requireMs,
        ratio: ratio(f.requireMs, grpcMs),
        cpuMs: round1(cpuMedian(f.name)),
        cpuRatio: ratio(cpuMedian(f.name), grpcCpu),
        rssAfterRequireMb: round1(figure(Object.fromEntries(loadedRss), f.name)),
      })),
      ...plain.map((f) => {
        const k = plainKey(f.fn.name);
        return {
          bundle: k,
          KB: Math.round(f.bytes / 1024),
          requireMs: round1(median(k)),
          ratio: ratio(median(k), grpcMs),
          cpuMs: round1(cpuMedian(k)),
          cpuRatio: ratio(cpuMedian(k), grpcCpu),
          rssAfterRequireMb: round1(figure(Object.fromEntries(loadedRss), k)),
        };
      }),
      {
        bundle: 'grpc-js alone',
        KB: Math.round(grpcBytes / 1024),
        requireMs: result.grpcJsAlone.requireMs,
        ratio: 1,
        cpuMs: round1(grpcCpu),
        cpuRatio: 1,
        rssAfterRequireMb: round1(figure(Object.fromEntries(loadedRss), 'grpc-js')),
      },
    ]);
    console.log(
      `(on ${result.runtimeNode as string}; KB is the bundle code; the default package's V8 code cache adds ${fns.map((f) => `${f.fn.name} ${Math.round(f.cacheBytes / 1024)}`).join(', ')} KB)`,
    );
    console.log(`Memory after ${INVOCATIONS} invocations`);
    console.table([
      {
        process: 'greet (packaged bundle)',
        rssMb: round1(greetRss),
        peakMb: round1(figure(memory.greet, 'peakMb')),
        ratio: ratio(greetRss, floorRss),
      },
      { process: 'grpc-js alone, one channel', rssMb: round1(floorRss), peakMb: round1(figure(memory.floor, 'peakMb')), ratio: 1 },
      ...(memory.riePeakMb === undefined ? [] : [{ process: 'greet in the Lambda emulator (runtime peak)', peakMb: memory.riePeakMb }]),
    ]);
    const sm = result.sourceMaps as Record<string, number>;
    console.log('Source maps (greet)');
    console.table([
      {
        path: 'require',
        without: sm.requireMs,
        with: sm.requireWithMapsMs,
        ratio: ratio(sm.requireWithMapsMs, sm.requireMs),
      },
      {
        path: 'require (CPU)',
        without: sm.requireCpuMs,
        with: sm.requireWithMapsCpuMs,
        ratio: ratio(sm.requireWithMapsCpuMs, sm.requireCpuMs),
      },
      {
        path: 'first unexpected error',
        without: sm.errorPathMs,
        with: sm.errorPathWithMapsMs,
        ratio: ratio(sm.errorPathWithMapsMs, sm.errorPathMs),
      },
    ]);
    console.log(`map: ${Math.round((sm.mapBytes ?? 0) / 1024)} KB`);
    console.log(`wrote ${writeResult('bundle', result, undefined, { node: RUNTIME_NODE_VERSION })}`);
  } finally {
    pkg.remove();
    plainPkg.remove();
    rmSync(work, { recursive: true, force: true });
  }
}

/** Peak RSS of greet's runtime process in the Lambda emulator after INVOCATIONS invocations. */
async function riePeak(fn: PackagedFunction, env: Record<string, string>): Promise<number | undefined> {
  const rie = await startLambdaRie({ fn, env });
  try {
    let peak: number | undefined;
    for (let i = 0; i < INVOCATIONS; i++) {
      const r = await rie.invoke(httpEvent('GET', { name: `rie${i}` }));
      if (r.status !== 200 || (r.payload as { statusCode?: number }).statusCode !== 200)
        throw new Error(`greet in the emulator answered ${r.status}: ${r.body}`);
      peak = r.peakRssMb ?? peak;
    }
    return peak === undefined ? undefined : round1(peak);
  } finally {
    await rie.stop();
  }
}

runMain(main);
