/**
 * Cold starts of the packaged greet against the floor Lambda (bench/floor-lambda/: grpc-js and one
 * SayHello to a fixed address, built with the same esbuild settings), interleaved round by round
 * on a dev agent with ACLs and two real Greeters. Beside them, when the package is CommonJS: both
 * through a one-line entry shim and both built as ES modules; and greet (packaged by default, with its
 * lazy V8 code cache) beside greet without it (CODE_CACHE=0) and with the eager cache
 * (lazy and eager). In the same rounds, each bundle's load in a fresh node (bundle-load.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PackagedFunction } from '../../scripts/rie/package-functions';
import { startFunctionStack } from '../../scripts/stack/function-stack';
import { seedDefaultConfig } from '../../scripts/stack/seed-config';
import { withEntryShim } from '../floor-lambda/entry-shim';
import { packageEsmVariant, packageFloor } from '../floor-lambda/package-floor';
import { loadMs, requireSkipReason, unpackBundle } from './bundle-load';
import { coldRun, expectOk, mid, type ColdRun } from './cold-run';

/** The packaged template's CONFIG_PREFIX for stage "local". */
export const PREFIX = 'config/greeter-gateway/local/';

/** Every way a function is packaged in the rounds. */
export type Variant = 'greet' | 'floor' | 'greet+shim' | 'floor+shim' | 'greet+esm' | 'floor+esm' | 'greet+plain' | 'greet+eagercache';

/** Medians of the bundles' load in a fresh node; `require` only for CommonJS bundles (`requireSkipped` says why not). */
export interface LoadMedians {
  greetImportMs: number;
  floorImportMs: number;
  /** greet packaged without its code cache (CODE_CACHE=0). */
  greetPlainImportMs?: number;
  greetRequireMs?: number;
  floorRequireMs?: number;
  requireSkipped?: string;
}

/** Runs one discarded round, then `rounds` interleaved rounds of every variant; the runs per variant and the load medians. */
export async function greetAgainstFloor(
  greet: PackagedFunction,
  packageDir: string,
  others: { plain?: PackagedFunction; eager?: PackagedFunction },
  rounds: number,
): Promise<{ runs: Map<Variant, ColdRun[]>; load: LoadMedians }> {
  const stack = await startFunctionStack(PREFIX);
  const cleanup: Array<() => void> = [];
  try {
    await seedDefaultConfig(stack.admin, PREFIX);
    const [a] = [await stack.addGreeter({ id: 'cold-1' }), await stack.addGreeter({ id: 'cold-2' })];
    const floor = await packageFloor(packageDir, greet, `127.0.0.1:${a.port}`);
    cleanup.push(floor.remove);
    console.log(
      `floor built with ${JSON.stringify(floor.options)} (serverless-esbuild keys not for esbuild: ${floor.ignored.join(', ') || 'none'})`,
    );
    const greetEnv = { CONSUL_HTTP_ADDR: stack.consul.address, CONSUL_HTTP_TOKEN: stack.gatewayToken, COLD_START_TRACE: '1' };
    const variants = new Map<Variant, { fn: PackagedFunction; env: Record<string, string> }>([
      ['greet', { fn: greet, env: greetEnv }],
      ['floor', { fn: floor.fn, env: {} }],
    ]);
    // Only a CommonJS bundle can be shimmed or rebuilt as ESM; an ESM build (.mjs) has no export lexer to avoid.
    if ((floor.options.format ?? 'cjs') === 'cjs') {
      for (const [fn, env, name] of [
        [greet, greetEnv, 'greet+shim'],
        [floor.fn, {}, 'floor+shim'],
      ] as const) {
        const sh = withEntryShim(fn);
        if (!sh) continue;
        cleanup.push(sh.remove);
        variants.set(name, { fn: sh.fn, env });
      }
      const esm = [
        await packageEsmVariant(packageDir, greet),
        await packageEsmVariant(packageDir, floor.fn, join(__dirname, '..', 'floor-lambda', 'floor.ts')),
      ];
      cleanup.push(...esm.map((e) => e.remove));
      variants.set('greet+esm', { fn: esm[0]!.fn, env: greetEnv });
      variants.set('floor+esm', { fn: esm[1]!.fn, env: {} });
    }
    // greet without its code cache (CODE_CACHE=0, the plain ES module bundle) and with the eager one (every
    // function compiled, CODE_CACHE=eager); the headline greet is the default package (the lazy cache).
    if (others.plain) variants.set('greet+plain', { fn: others.plain, env: greetEnv });
    if (others.eager) variants.set('greet+eagercache', { fn: others.eager, env: greetEnv });
    const order = [...variants.keys()];
    const runOnce = async (v: Variant, i: number) => {
      const { fn, env } = variants.get(v) ?? {};
      if (!fn || !env) throw new Error(`no variant ${v}`);
      return expectOk(await coldRun(fn, env, `${v.replace('+', '-')}-${i}`), v);
    };
    // The import step, outside the emulator: each unpacked bundle loaded in a fresh node.
    const unpacked = mkdtempSync(join(tmpdir(), 'consul-grpc-lambda-cold-'));
    cleanup.push(() => rmSync(unpacked, { recursive: true, force: true }));
    const bundles = {
      greet: unpackBundle(greet, unpacked, 'greet'),
      floor: unpackBundle(floor.fn, unpacked, 'floor'),
      greetPlain: others.plain ? unpackBundle(others.plain, unpacked, 'greet-plain') : undefined,
    };
    const requireSkipped = requireSkipReason(bundles.greet) ?? requireSkipReason(bundles.floor);
    const load = { greetImport: [] as number[], floorImport: [] as number[], greetRequire: [] as number[], floorRequire: [] as number[] };
    const plainImport: number[] = [];
    // One discarded round: the first start of anything pays for cold disk caches.
    for (const v of order) await runOnce(v, -1);
    const runs = new Map<Variant, ColdRun[]>(order.map((v) => [v, []]));
    for (let i = 0; i < rounds; i++) {
      // Rotate which goes first, so drift on a shared machine hits every variant alike.
      for (let k = 0; k < order.length; k++) {
        const v = order[(i + k) % order.length]!;
        runs.get(v)?.push(await runOnce(v, i));
      }
      // In the same rounds, so the import figures see the same machine load as the cold starts.
      load.greetImport.push(loadMs(bundles.greet, 'import', greet));
      load.floorImport.push(loadMs(bundles.floor, 'import', floor.fn));
      if (bundles.greetPlain) plainImport.push(loadMs(bundles.greetPlain, 'import', greet));
      if (!requireSkipped) {
        load.greetRequire.push(loadMs(bundles.greet, 'require', greet));
        load.floorRequire.push(loadMs(bundles.floor, 'require', floor.fn));
      }
    }
    return {
      runs,
      load: {
        greetImportMs: mid(load.greetImport, 'greet imports'),
        floorImportMs: mid(load.floorImport, 'floor imports'),
        ...(bundles.greetPlain ? { greetPlainImportMs: mid(plainImport, 'plain bundle imports') } : {}),
        ...(requireSkipped
          ? { requireSkipped }
          : { greetRequireMs: mid(load.greetRequire, 'greet requires'), floorRequireMs: mid(load.floorRequire, 'floor requires') }),
      },
    };
  } finally {
    for (const c of cleanup.reverse()) c();
    await stack.stop();
  }
}
