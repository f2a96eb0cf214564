// The bundle budget: each function packaged as for a deployment (`serverless package`, the
// esbuild settings of serverless.yml) but as the plain ES module bundle (CODE_CACHE=0: the default
// package holds the same code as CommonJS beside its V8 code cache, scripts/esbuild/code-cache.cjs)
// must stay within its budget in bench/bundle-budgets.json, ship only that bundle (no source map, no
// node_modules), and load on its own: what it leaves out of the bundle (the AWS SDK clients,
// @grpc/proto-loader) must not be needed at load.
// The code-cache layout is tested by test/integration/code-cache.test.ts. Also here: what the
// grpc-client-only plugin (scripts/esbuild/plugins.cjs) leaves out of grpc-js, and what it keeps.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { bundlePath, packageFunctions, type PackageOutput } from '../../scripts/rie/package-functions';
import { extractZip } from '../../scripts/rie/zip';

const BUDGETS_FILE = join(__dirname, '..', '..', 'bench', 'bundle-budgets.json');
/** A budget more than this much above its bundle no longer guards anything: lower it. */
const SLACK = 1.15;
const NODE_MODULES = join(__dirname, '..', '..', 'node_modules');
/** A string only grpc-js's server.js holds. */
const SERVER_CODE = 'bindAsync operation cancelled by unbind call';

let pkg: PackageOutput | undefined;
let work: string;
const bundles = new Map<string, { js: string; files: string[]; kib: number }>();

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'bundle-budget-'));
  // The plain bundles, whatever CODE_CACHE the shell running the tests has.
  pkg = await packageFunctions({ codeCache: false });
  for (const fn of pkg.functions.values()) {
    const dir = join(work, fn.name);
    const files = extractZip(fn.zip, dir);
    const js = bundlePath(fn, dir);
    bundles.set(fn.name, { js, files: files.sort(), kib: statSync(js).size / 1024 });
  }
});

after(() => {
  pkg?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

function budgets(): Record<string, number> {
  const raw = JSON.parse(readFileSync(BUDGETS_FILE, 'utf8')) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('_'))) as Record<string, number>;
}

describe('bundle budget', () => {
  it('has one budget per packaged function, each a positive number of KiB', () => {
    assert.deepEqual(Object.keys(budgets()).sort(), [...bundles.keys()].sort());
    for (const [name, kib] of Object.entries(budgets())) assert.ok(Number.isFinite(kib) && kib > 0, `${name}: budget ${kib}`);
  });

  it('keeps every bundle within its budget', () => {
    for (const [name, b] of bundles) {
      const budget = budgets()[name] ?? 0;
      assert.ok(
        b.kib <= budget,
        `${name}: bundle is ${b.kib.toFixed(0)} KiB, over its budget of ${budget} KiB (bench/bundle-budgets.json; see what grew with esbuild --metafile)`,
      );
    }
  });

  it('keeps every budget tight enough to catch growth', () => {
    for (const [name, b] of bundles) {
      const budget = budgets()[name] ?? Infinity;
      assert.ok(
        budget <= b.kib * SLACK,
        `${name}: budget ${budget} KiB is more than ${SLACK}× its ${b.kib.toFixed(0)} KiB bundle; lower it to ${Math.ceil(b.kib * 1.05)}`,
      );
    }
  });

  it('ships only the bundle, one ES module: no code cache, no source map, no node_modules', () => {
    for (const [name, b] of bundles) {
      const fn = pkg?.functions.get(name);
      assert.ok(fn);
      assert.deepEqual(b.files, [`${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.mjs`], `${name}: files in the zip (one ES module)`);
      assert.doesNotMatch(readFileSync(b.js, 'utf8').slice(-200), /sourceMappingURL/, `${name}: no source map reference`);
    }
  });

  it('loads each bundle on its own, without the modules it leaves out', () => {
    for (const [name, b] of bundles) {
      // A fresh node in an empty dir (no node_modules to fall back on), as in /var/task.
      // Loaded with import(), as the runtime client does; whatever CommonJS it pulled in would be in require.cache.
      const code = `const m=await import(${JSON.stringify(pathToFileURL(b.js).href)});if(typeof m.handler!=='function')throw new Error('no handler');
const {createRequire}=await import('node:module');const loaded=Object.keys(createRequire(import.meta.url).cache);if(loaded.length)throw new Error('loaded '+loaded.join(','));`;
      try {
        execFileSync(process.execPath, ['--input-type=module', '-e', code], {
          cwd: work,
          env: { PATH: process.env.PATH },
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: 30_000,
        });
      } catch (err) {
        assert.fail(`${name} does not load on its own: ${String((err as { stderr?: Buffer }).stderr ?? err).slice(0, 1000)}`);
      }
    }
    // And the check can fail: a bundle that needs a left-out module at require time is refused.
    assert.throws(
      () =>
        execFileSync(process.execPath, ['-e', "require('@aws-sdk/client-ssm')"], {
          cwd: work,
          env: { PATH: process.env.PATH },
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: 30_000,
        }),
      /Cannot find module/,
    );
  });

  it('bundles grpc-js as a client: its server is left out, and using it fails plainly', async () => {
    assert.ok(pkg);
    const options = pkg.esbuild;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the plugins file is CommonJS, as serverless-esbuild loads it
    const plugins = (require('../../scripts/esbuild/plugins.cjs') as () => Plugin[])().filter((p) => p.name === 'grpc-client-only');
    assert.equal(plugins.length, 1, 'the grpc-client-only plugin');
    const dir = join(work, 'grpc-client');
    mkdirSync(dir);
    const entry = join(dir, 'entry.mjs');
    writeFileSync(entry, "export * as grpc from '@grpc/grpc-js';\n");
    const bundle = async (name: string, using: Plugin[]) => {
      const outfile = join(dir, name);
      const r = await build({
        ...options,
        plugins: using,
        entryPoints: [entry],
        outfile,
        metafile: true,
        nodePaths: [NODE_MODULES],
        logLevel: 'error',
      });
      return { outfile, inputs: Object.keys(r.metafile.inputs).map((p) => p.replaceAll('\\', '/')) };
    };
    const has = (inputs: string[], file: string) => inputs.some((p) => p.endsWith(`@grpc/grpc-js/build/src/${file}`));
    const client = await bundle('client.mjs', plugins);
    const full = await bundle('full.mjs', []);
    for (const file of ['server.js', 'server-call.js', 'server-interceptors.js']) {
      assert.ok(has(full.inputs, file), `without the plugin, ${file} is bundled (the check can fail)`);
      assert.ok(!has(client.inputs, file), `${file} left out`);
    }
    // Kept: the server credentials Connect builds (lib/connect/credentials.ts), ORCA's client side for weighted round robin.
    for (const file of ['server-credentials.js', 'orca.js', 'load-balancer-weighted-round-robin.js'])
      assert.ok(has(client.inputs, file), `${file} kept`);

    // The client bundle works as a client, and the server's classes say plainly that they are not there.
    const code = `const { grpc } = await import(${JSON.stringify(pathToFileURL(client.outfile).href)});
const c = new grpc.Client('127.0.0.1:1', grpc.credentials.createInsecure()); c.close();
if (typeof grpc.experimental.createCertificateProviderServerCredentials !== 'function') throw new Error('no server credentials');
const refused = [];
for (const k of ['Server', 'ServerInterceptingCall', 'ServerListenerBuilder', 'ResponderBuilder']) {
  try { new grpc[k](); } catch (e) { if (/is not in this bundle/.test(e.message)) refused.push(k); }
}
console.log(refused.join(','));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
      cwd: work,
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
    assert.equal(out.toString().trim(), 'Server,ServerInterceptingCall,ServerListenerBuilder,ResponderBuilder');

    // And the packaged functions carry no server code.
    assert.match(readFileSync(full.outfile, 'utf8'), new RegExp(SERVER_CODE), 'the marker is server code');
    for (const [name, b] of bundles)
      assert.doesNotMatch(readFileSync(b.js, 'utf8'), new RegExp(SERVER_CODE), `${name}: grpc-js server bundled`);
  });
});
