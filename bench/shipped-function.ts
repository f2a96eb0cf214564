/**
 * A function's handler module as it ships: bundled by esbuild with the `custom.esbuild` settings of
 * serverless.yml (as `serverless print` resolves them; the packaging plugins, such as the code cache,
 * change how the code loads, not how it runs warm). The warm benches time this instead of the
 * TypeScript sources: tsx compiles with esbuild's keepNames, which wraps every closure greet makes
 * per invocation in a name-setting call the deployed bundle never runs (in three alternating runs
 * each, greet / raw p50 was 1.26–1.29 from the sources and 1.24–1.26 bundled).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { deployEsbuildOptions } from '../scripts/rie/package-functions';

const ROOT = join(__dirname, '..');

/** The esbuild options serverless.yml deploys with, resolved by the framework itself. */
function shippedEsbuildOptions(): ReturnType<typeof deployEsbuildOptions> {
  const out = execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'serverless', 'bin', 'serverless.js'), 'print', '--format', 'json', '--stage', 'local'],
    {
      cwd: ROOT,
      env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  ).toString();
  const custom = (JSON.parse(out) as { custom?: { esbuild?: Record<string, unknown> } }).custom?.esbuild;
  if (!custom) throw new Error('serverless print: no custom.esbuild');
  return deployEsbuildOptions(custom);
}

/** The module `functions/<name>.ts` as deployed, loaded into this process; `remove()` deletes the build (imported code stays loaded). */
export async function importShipped<M>(name: string): Promise<{ module: M; remove: () => void }> {
  // Under bench/out/ (git-ignored), so the bundle's externals resolve from the repo's node_modules.
  mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, 'bench', 'out', `shipped-${name}-`));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const options = shippedEsbuildOptions();
    const outfile = join(dir, `${name}.mjs`);
    await build({
      ...options,
      // Always an ES module here: the format changes how the runtime client loads the code, not how it runs.
      format: 'esm',
      // grpc-js and the protobuf runtime from node_modules, the very copies the benches' raw clients run: a
      // second copy of each in one process made every path slower in interleaved turns (more code, each
      // copy half as warm), which a deployed function, holding one copy, never sees.
      external: [...(options.external ?? []), '@grpc/grpc-js', '@bufbuild/protobuf'],
      bundle: true,
      entryPoints: [join(ROOT, 'functions', `${name}.ts`)],
      outfile,
      logLevel: 'error',
    });
    return { module: (await import(pathToFileURL(outfile).href)) as M, remove };
  } catch (err) {
    remove();
    throw err;
  }
}
