/**
 * Packages the floor Lambda (floor.ts) the way `serverless package` packaged the
 * functions it is compared with: the esbuild settings are read back from that package's
 * serverless-state.json (custom.esbuild, as serverless-esbuild applies them), the zip holds
 * the bundle (and its source map, if the settings make one) like the functions' zips, and the
 * function gets the same NODE_OPTIONS. A change to the build settings in serverless.yml moves
 * both sides at once. `packageEsmVariant` builds any function the same way but as an ES module.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import type { PackagedFunction } from '../../scripts/rie/package-functions';

const ROOT = join(__dirname, '..', '..');

/** The serverless-esbuild keys that are esbuild's own options (the rest steer packaging). */
const ESBUILD_KEYS = new Set([
  'bundle',
  'minify',
  'minifyWhitespace',
  'minifyIdentifiers',
  'minifySyntax',
  'sourcemap',
  'sourcesContent',
  'target',
  'platform',
  'format',
  'mainFields',
  'conditions',
  'treeShaking',
  'legalComments',
  'keepNames',
  'define',
  'drop',
  'dropLabels',
  'pure',
  'banner',
  'footer',
  'charset',
  'supported',
  'loader',
  'resolveExtensions',
  'ignoreAnnotations',
  'lineLimit',
  'external',
]);

/** A packaged bench function; `remove()` deletes its files. */
export interface BenchPackage {
  fn: PackagedFunction;
  /** The esbuild options it was built with, and the serverless-esbuild keys that do not apply to esbuild. */
  options: BuildOptions;
  ignored: string[];
  remove(): void;
}

/** The esbuild options serverless-esbuild used for the package in `packageDir`. */
export function packagedEsbuildOptions(packageDir: string): { options: BuildOptions; ignored: string[] } {
  const state = JSON.parse(readFileSync(join(packageDir, 'serverless-state.json'), 'utf8')) as {
    service: { custom?: { esbuild?: Record<string, unknown> } };
  };
  const custom = state.service.custom?.esbuild ?? {};
  const options: BuildOptions = {};
  const ignored: string[] = [];
  for (const [k, v] of Object.entries(custom)) {
    if (ESBUILD_KEYS.has(k)) Object.assign(options, { [k]: v });
    else ignored.push(k);
  }
  // serverless-esbuild's `exclude` leaves those packages out of the bundle, i.e. external.
  const exclude = Array.isArray(custom.exclude) ? (custom.exclude as string[]).filter((e) => e !== '*') : [];
  if (exclude.length) options.external = [...(options.external ?? []), ...exclude];
  return { options, ignored };
}

/** Bundles `entry` into `<dir>/<outPath>` with `options` and zips what it wrote (bundle, and map if any). */
async function bundleAndZip(entry: string, dir: string, outPath: string, options: BuildOptions): Promise<string> {
  const root = join(dir, 'root');
  mkdirSync(dirname(join(root, outPath)), { recursive: true });
  await build({ ...options, bundle: true, entryPoints: [entry], outfile: join(root, outPath), logLevel: 'error' });
  const top = outPath.split('/')[0] ?? outPath;
  const withMap = options.sourcemap === 'external' || options.sourcemap === true || options.sourcemap === 'both';
  const files = top === outPath && withMap ? [outPath, `${outPath}.map`] : [top];
  const zip = join(dir, 'function.zip');
  // Python's zipfile, as scripts/rie/zip.ts extracts with: each entry is stored under its path from the root.
  execFileSync('python3', ['-m', 'zipfile', '-c', zip, ...files], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
  return zip;
}

/** Runs `make` in a new temp dir, removing the dir if it throws. */
async function inTempDir(prefix: string, make: (dir: string, remove: () => void) => Promise<BenchPackage>): Promise<BenchPackage> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    return await make(dir, remove);
  } catch (err) {
    remove();
    throw err;
  }
}

/** Builds and zips the floor Lambda with the esbuild settings of the package in `packageDir`; `like` lends it runtime, memory, timeout, region and NODE_OPTIONS. */
export function packageFloor(packageDir: string, like: PackagedFunction, greeterAddress: string): Promise<BenchPackage> {
  return inTempDir('consul-grpc-lambda-floor-', async (dir, remove) => {
    const { options, ignored } = packagedEsbuildOptions(packageDir);
    // The same module format as the package: an ES module build is `.mjs`.
    const zip = await bundleAndZip(join(__dirname, 'floor.ts'), dir, options.format === 'esm' ? 'floor.mjs' : 'floor.js', options);
    const environment: Record<string, string> = { FLOOR_GREETER_ADDR: greeterAddress };
    if (like.environment.NODE_OPTIONS !== undefined) environment.NODE_OPTIONS = like.environment.NODE_OPTIONS;
    const fn: PackagedFunction = {
      ...like,
      name: 'floor',
      functionName: `${like.functionName.replace(/-[^-]+$/, '')}-floor`,
      zip,
      handler: 'floor.handler',
      environment,
    };
    return { fn, options, ignored, remove };
  });
}

/**
 * `fn` built from `entry` (default: its handler's .ts file in the repo) with the package's esbuild settings but as an
 * ES module (`<module>.mjs`; the runtime client tries .mjs after .js), with a `require` for the CommonJS dependencies.
 */
export function packageEsmVariant(packageDir: string, fn: PackagedFunction, entry?: string): Promise<BenchPackage> {
  return inTempDir(`consul-grpc-lambda-esm-${fn.name}-`, async (dir, remove) => {
    const { options, ignored } = packagedEsbuildOptions(packageDir);
    const modulePath = fn.handler.slice(0, fn.handler.lastIndexOf('.'));
    const esm: BuildOptions = {
      ...options,
      format: 'esm',
      // CommonJS dependencies bundled into an ES module still call require() for Node built-ins.
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    };
    const zip = await bundleAndZip(entry ?? join(ROOT, `${modulePath}.ts`), dir, `${modulePath}.mjs`, esm);
    return { fn: { ...fn, name: `${fn.name}+esm`, zip }, options: esm, ignored, remove };
  });
}
