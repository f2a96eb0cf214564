// The V8 code cache of the default package (scripts/esbuild/code-cache.cjs): every zip holds bundle,
// cache and loader; the cache is made by the pinned Node of the functions' runtime as Lambda starts it
// (scripts/rie/runtime-node.ts, scripts/esbuild/lambda-node.cjs), so that Node, started so, uses it; and
// the packaged greet answers a real request through a real Consul and Greeter whatever state its cache
// is in. A runtime update (the Node running these tests is another V8), other heap flags, a damaged or
// truncated cache, one V8 itself refuses, or none at all: the bundle compiles as without a cache, and the
// handler answers 200 with nothing on stderr. Two packages of the same sources hold the same bytes.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { crc32 } from 'node:zlib';
import {
  bundleCodePath,
  bundlePath,
  packageFunctions,
  type PackageOutput,
  type PackagedFunction,
} from '../../scripts/rie/package-functions';
import { ensureRuntimeNode } from '../../scripts/rie/runtime-node';
import { extractZip } from '../../scripts/rie/zip';
import { httpEvent, startTestStack, type TestStack } from './harness';

const PREFIX = 'config/greeter-gateway/code-cache/';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- shared with the esbuild plugins, which are CommonJS
const { lambdaNodeArgs } = require('../../scripts/esbuild/lambda-node.cjs') as { lambdaNodeArgs: (memoryMb: number) => string[] };

let pkg: PackageOutput | undefined;
let eagerPkg: PackageOutput | undefined;
let againPkg: PackageOutput | undefined;
let runtimeNode: string;
let stack: TestStack | undefined;
let work: string;
let greet: PackagedFunction;
/** The greet zip extracted once; each case works on a copy. */
let pristine: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'code-cache-'));
  runtimeNode = ensureRuntimeNode();
  const packaging = packageFunctions({ codeCache: true });
  const eagerPackaging = packaging.then(() => packageFunctions({ codeCache: 'eager' }));
  const again = eagerPackaging.then(() => packageFunctions({ codeCache: true }));
  stack = await startTestStack(PREFIX);
  await stack.addGreeter({ id: 'code-cache-1' });
  pkg = await packaging;
  eagerPkg = await eagerPackaging;
  againPkg = await again;
  const fn = pkg.functions.get('greet');
  assert.ok(fn, 'greet packaged');
  greet = fn;
  pristine = join(work, 'pristine');
  extractZip(greet.zip, pristine);
});

after(async () => {
  await stack?.stop();
  pkg?.remove();
  eagerPkg?.remove();
  againPkg?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A copy of the extracted zip whose code cache file `edit` may rewrite (or remove). */
function variant(name: string, edit: (cacheFile: string) => void): string {
  const dir = join(work, name);
  cpSync(pristine, dir, { recursive: true });
  edit(`${bundleCodePath(greet, dir)}.code-cache`);
  return dir;
}

/** The cache file split into its JSON header and V8 payload. */
function split(file: string): { head: Record<string, unknown>; data: Buffer } {
  const raw = readFileSync(file);
  const nl = raw.indexOf(10);
  return { head: JSON.parse(raw.subarray(0, nl).toString('utf8')) as Record<string, unknown>, data: raw.subarray(nl + 1) };
}

const join2 = (head: Record<string, unknown>, data: Buffer) => Buffer.concat([Buffer.from(`${JSON.stringify(head)}\n`), data]);

/**
 * Loads the handler module in a fresh node, as the runtime client does, and invokes it once: by default
 * the runtime's Node with the flags Lambda gives greet's memory size.
 */
function invoke(
  dir: string,
  node: { bin: string; args: string[] } = { bin: runtimeNode, args: lambdaNodeArgs(greet.memorySize) },
  extraEnv: Record<string, string> = {},
): Promise<{ status: string; statusCode: number; stderr: string }> {
  assert.ok(stack);
  const env = {
    PATH: process.env.PATH,
    ...greet.environment,
    CONSUL_HTTP_ADDR: stack.consul.address,
    CONSUL_HTTP_TOKEN: stack.gatewayToken,
    CONFIG_PREFIX: PREFIX,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    AWS_REGION: 'eu-west-1',
    ...extraEnv,
  };
  const code = `const m=await import(${JSON.stringify(pathToFileURL(bundlePath(greet, dir)).href)});
const r=await m.handler(${JSON.stringify(httpEvent('GET', { name: 'Ada' }))},{awsRequestId:'r1',functionName:'greet',getRemainingTimeInMillis:()=>5000});
console.log(JSON.stringify({status:m.codeCacheStatus,statusCode:r.statusCode}));process.exit(0)`;
  return new Promise((resolve, reject) => {
    execFile(node.bin, [...node.args, '--input-type=module', '-e', code], { cwd: dir, env, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr.slice(-2000)}`));
      const line = stdout.trim().split('\n').pop() ?? '';
      resolve({ ...(JSON.parse(line) as { status: string; statusCode: number }), stderr });
    });
  });
}

describe('code cache', () => {
  it('ships each function as bundle, code cache and loader module', () => {
    assert.ok(pkg);
    for (const fn of pkg.functions.values()) {
      const base = fn.handler.slice(0, fn.handler.lastIndexOf('.'));
      const files = extractZip(fn.zip, join(work, 'layout', fn.name)).sort();
      assert.deepEqual(files, [`${base}.bundle.cjs`, `${base}.bundle.cjs.code-cache`, `${base}.mjs`], `${fn.name}: files in the zip`);
    }
  });

  it("is used by the runtime's Node started as Lambda starts it for the function's memory", async () => {
    const r = await invoke(variant('intact', () => {}));
    assert.deepEqual([r.status, r.statusCode, r.stderr], ['used', 200, '']);
    const head = split(`${bundleCodePath(greet, pristine)}.code-cache`).head;
    assert.equal(head.eager, false, 'the default is the lazy cache');
    assert.equal(
      head.flags,
      lambdaNodeArgs(greet.memorySize)
        .filter((a) => a.includes('space-size'))
        .join(' '),
    );
  });

  it('is the same bytes when the same sources are packaged again', () => {
    for (const [name, fn] of pkg?.functions ?? []) {
      const other = againPkg?.functions.get(name);
      assert.ok(other, `${name} packaged again`);
      assert.ok(readFileSync(fn.zip).equals(readFileSync(other.zip)), `${name}.zip is reproducible`);
    }
  });

  it('is refused by V8 under other heap flags (another memory size), and the bundle compiles without it', async () => {
    const r = await invoke(
      variant('other-flags', () => {}),
      { bin: runtimeNode, args: lambdaNodeArgs(greet.memorySize * 2) },
    );
    assert.deepEqual([r.status, r.statusCode, r.stderr], ['rejected', 200, '']);
  });

  it("is stale for another Node release on another V8 (this test runner's Node), which compiles without it", async (t) => {
    if (
      process.versions.v8.split('-')[0] ===
      JSON.parse(execFileSync(runtimeNode, ['-p', 'JSON.stringify(process.versions.v8.split("-")[0])']).toString())
    )
      return t.skip("the test runner runs the runtime's V8");
    const r = await invoke(
      variant('other-node', () => {}),
      { bin: process.execPath, args: lambdaNodeArgs(greet.memorySize) },
    );
    assert.deepEqual([r.status, r.statusCode, r.stderr], ['stale', 200, '']);
  });

  it('is the eager one (every function compiled) with CODE_CACHE=eager, and used', async () => {
    const fn = eagerPkg?.functions.get('greet');
    assert.ok(fn, 'greet packaged with CODE_CACHE=eager');
    const dir = join(work, 'eager');
    extractZip(fn.zip, dir);
    const eager = split(`${bundleCodePath(fn, dir)}.code-cache`);
    assert.equal(eager.head.eager, true);
    assert.ok(
      eager.data.length > split(`${bundleCodePath(greet, pristine)}.code-cache`).data.length,
      'the eager cache holds more than the lazy one',
    );
    const r = await invoke(dir);
    assert.deepEqual([r.status, r.statusCode, r.stderr], ['used', 200, '']);
  });

  it('refuses a CODE_CACHE value it does not know, rather than packaging without the cache asked for', async () => {
    await assert.rejects(packageFunctions({ env: { CODE_CACHE: 'yes-please' } }), /CODE_CACHE=yes-please/);
  });

  const cases: Array<{ name: string; expect: string; edit: (file: string) => void }> = [
    {
      name: 'made by another Node version (another V8)',
      expect: 'stale',
      edit: (f) => {
        const { head, data } = split(f);
        writeFileSync(f, join2({ ...head, node: 'v18.20.0', v8: '10.2.154.26-node.36' }, data));
      },
    },
    {
      name: 'for another bundle',
      expect: 'stale',
      edit: (f) => {
        const { head, data } = split(f);
        writeFileSync(f, join2({ ...head, bundleLength: Number(head.bundleLength) + 1 }, data));
      },
    },
    {
      name: 'damaged (one payload byte flipped)',
      expect: 'corrupt',
      edit: (f) => {
        const raw = readFileSync(f);
        const at = raw.length - 1000;
        raw[at] = (raw[at] ?? 0) ^ 0xff;
        writeFileSync(f, raw);
      },
    },
    { name: 'truncated', expect: 'corrupt', edit: (f) => writeFileSync(f, readFileSync(f).subarray(0, 4096)) },
    { name: 'not a cache at all', expect: 'corrupt', edit: (f) => writeFileSync(f, 'garbage') },
    {
      // Header and CRC right, payload compiled from another source: V8 checks the source and refuses it.
      name: 'refused by V8 (payload of another source)',
      expect: 'rejected',
      edit: (f) => {
        const { head, data } = split(f);
        const other = Buffer.from(data);
        // The source hash V8 keeps in its header; changing it makes V8 see a cache of another source.
        for (let i = 8; i < 12; i++) other[i] = (other[i] ?? 0) ^ 0x5a;
        writeFileSync(f, join2({ ...head, crc32: crc32(other) }, other));
      },
    },
    { name: 'absent', expect: 'absent', edit: (f) => rmSync(f) },
  ];
  for (const c of cases) {
    it(`falls back to compiling when the cache is ${c.name}, and still answers`, async () => {
      const r = await invoke(variant(c.name.replace(/\W+/g, '-'), c.edit));
      assert.equal(r.status, c.expect);
      assert.equal(r.statusCode, 200);
      assert.equal(r.stderr, '', 'nothing on stderr');
    });
  }
});
