/**
 * Packages the functions with the real Serverless CLI (serverless-esbuild, as for a
 * deployment) into a private temp dir, and reads back what Lambda would be given for
 * each: the zip, handler, runtime, memory, timeout and environment, from the generated
 * CloudFormation template.
 *
 * The CLI runs in a "shadow" service dir (symlinks to the repo, plus a copy of
 * serverless.yml, which osls refuses to read through a symlink), so neither
 * `.serverless/` nor serverless-esbuild's `.esbuild/` work folder in the repo is
 * touched: other people's `serverless offline` keeps its build output.
 *
 * Secrets are not given to the packaging run: the template keeps empty tokens and
 * signing key, and the caller passes the real ones when it starts a function.
 *
 * Two layouts come out, and everything here reads both: by default (scripts/esbuild/code-cache.cjs)
 * functions/<name>.mjs is a small loader beside functions/<name>.bundle.cjs and its V8 code cache; with
 * CODE_CACHE=0 (option `codeCache: false`) each zip holds the ES module bundle functions/<name>.mjs.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildOptions } from 'esbuild';
import { startProcess, stopProcess } from '../stack/processes';

const ROOT = join(__dirname, '..', '..');
/** Repo entries the shadow dir leaves out: build output, state, VCS. */
const NOT_SHADOWED = new Set(['.esbuild', '.serverless', '.build', '.git', '.local-stack', 'serverless.yml']);
/** The environment variables of the packaging run that would put secrets into the template. */
const SECRET_ENV = [
  'GREETER_GATEWAY_CONSUL_TOKEN',
  'INSTANCE_REGISTRY_CONSUL_TOKEN',
  'HEALTH_SYNC_CONSUL_TOKEN',
  'REGISTRY_SIGNING_KEY',
  'REGISTRY_API_KEY',
  'CONSUL_HTTP_TOKEN',
];

/** One packaged function, as Lambda would run it. */
export interface PackagedFunction {
  /** The name in serverless.yml (greet, status, instances, healthSync). */
  name: string;
  /** The deployed function name (service-stage-name). */
  functionName: string;
  zip: string;
  handler: string;
  /** The runtime in the template, e.g. nodejs22.x (we run whatever Node runs the harness). */
  runtime: string;
  memorySize: number;
  timeout: number;
  region: string;
  /** The function's environment as packaged (provider + function level). */
  environment: Record<string, string>;
}

/** The output of one packaging run; `remove()` deletes it. */
export interface PackageOutput {
  dir: string;
  functions: Map<string, PackagedFunction>;
  /** The esbuild options serverless-esbuild built the bundles with (see `deployEsbuildOptions`). */
  esbuild: BuildOptions;
  remove(): void;
}

/** serverless-esbuild's own settings, which esbuild does not know (its bundle.js strips the same list). */
const PLUGIN_ONLY = new Set([
  'concurrency',
  'zipConcurrency',
  'exclude',
  'external',
  'nativeZip',
  'packager',
  'packagePath',
  'watch',
  'keepOutputDirectory',
  'packagerOptions',
  'installExtraArgs',
  'outputFileExtension',
  'outputBuildFolder',
  'outputWorkFolder',
  'nodeExternals',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
  'config',
  'plugins',
]);

/**
 * The esbuild options of `custom.esbuild` (as the framework resolved it) the way serverless-esbuild
 * hands them to esbuild: plugin settings dropped, `external` and `exclude` both external, so a
 * bench or test can bundle other entries exactly as the deployment does.
 */
export function deployEsbuildOptions(custom: Record<string, unknown>): BuildOptions {
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const exclude = list(custom.exclude);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(custom)) if (!PLUGIN_ONLY.has(k)) out[k] = v;
  return { ...(out as BuildOptions), external: [...list(custom.external), ...(exclude.includes('*') ? [] : exclude)] };
}

/** The handler module (`functions/greet.mjs`, or `.js` for a CommonJS build, for handler `functions/greet.handler`) in a zip extracted into `dir`. */
export function bundlePath(fn: PackagedFunction, dir: string): string {
  const base = join(dir, fn.handler.slice(0, fn.handler.lastIndexOf('.')));
  return existsSync(`${base}.mjs`) ? `${base}.mjs` : `${base}.js`;
}

/**
 * The file holding the function's code: `functions/greet.bundle.cjs` when the handler module is the
 * code-cache loader (scripts/esbuild/code-cache.cjs), else the handler module itself.
 */
export function bundleCodePath(fn: PackagedFunction, dir: string): string {
  const code = join(dir, `${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.bundle.cjs`);
  return existsSync(code) ? code : bundlePath(fn, dir);
}

interface TemplateFunction {
  Type: string;
  Properties: {
    FunctionName?: string;
    Handler?: string;
    Runtime?: string;
    MemorySize?: number;
    Timeout?: number;
    Environment?: { Variables?: Record<string, unknown> };
  };
}

/** Reads the functions of an existing package dir (`serverless package --package <dir>` output). */
export function readPackage(dir: string): Map<string, PackagedFunction> {
  const template = JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')) as {
    Resources: Record<string, TemplateFunction>;
  };
  const state = JSON.parse(readFileSync(join(dir, 'serverless-state.json'), 'utf8')) as {
    service: { provider: { region?: string }; functions: Record<string, { handler: string; package?: { artifact?: string } }> };
  };
  const region = state.service.provider.region ?? 'us-east-1';
  const out = new Map<string, PackagedFunction>();
  for (const [name, fn] of Object.entries(state.service.functions)) {
    // The framework's logical id: first letter upper-cased, dashes and underscores spelled out.
    const logicalId = `${name.charAt(0).toUpperCase()}${name.slice(1).replaceAll('-', 'Dash').replaceAll('_', 'Underscore')}LambdaFunction`;
    const res = template.Resources[logicalId];
    if (!res || res.Type !== 'AWS::Lambda::Function') throw new Error(`${dir}: no ${logicalId} in the template for function ${name}`);
    const p = res.Properties;
    const zip = join(dir, `${name}.zip`);
    if (!existsSync(zip)) throw new Error(`${dir}: ${name}.zip is missing`);
    const environment: Record<string, string> = {};
    for (const [k, v] of Object.entries(p.Environment?.Variables ?? {})) {
      if (typeof v !== 'string')
        throw new Error(`${name}: environment variable ${k} is not a plain string in the template (${JSON.stringify(v)})`);
      environment[k] = v;
    }
    out.set(name, {
      name,
      functionName: p.FunctionName ?? name,
      zip,
      handler: p.Handler ?? fn.handler,
      runtime: p.Runtime ?? 'nodejs22.x',
      memorySize: p.MemorySize ?? 1024,
      timeout: p.Timeout ?? 6,
      region,
      environment,
    });
  }
  return out;
}

/** The esbuild options a package dir was built with, from the framework's resolved state. */
export function readEsbuildOptions(dir: string): BuildOptions {
  const state = JSON.parse(readFileSync(join(dir, 'serverless-state.json'), 'utf8')) as {
    service: { custom?: { esbuild?: Record<string, unknown> } };
  };
  const custom = state.service.custom?.esbuild;
  if (!custom) throw new Error(`${dir}: no custom.esbuild in serverless-state.json`);
  return deployEsbuildOptions(custom);
}

/** Options of a packaging run. */
export interface PackageOptions {
  stage?: string;
  /** Extra environment for the packaging run (e.g. LOG_LEVEL, which sets POWERTOOLS_LOG_LEVEL). */
  env?: Record<string, string | undefined>;
  echo?: (line: string) => void;
  timeoutMs?: number;
  /**
   * The V8 code cache (CODE_CACHE of scripts/esbuild/plugins.cjs): true = the lazy cache (the default
   * package), 'eager' = every function compiled, false = none (the plain ES module bundles); unset =
   * whatever CODE_CACHE this process has.
   */
  codeCache?: boolean | 'eager';
}

/** Runs `serverless package` for every function into a new temp dir. */
export async function packageFunctions(o: PackageOptions = {}): Promise<PackageOutput> {
  const work = mkdtempSync(join(tmpdir(), 'consul-grpc-lambda-package-'));
  const remove = () => rmSync(work, { recursive: true, force: true });
  try {
    const shadow = join(work, 'service');
    const out = join(work, 'package');
    // A fresh dir with the repo's entries linked in; the build output lands here, not in the repo.
    copyTreeLinks(shadow);
    const env: NodeJS.ProcessEnv = { ...process.env, ...o.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' };
    for (const k of SECRET_ENV) delete env[k];
    if (o.codeCache !== undefined) env.CODE_CACHE = o.codeCache === false ? '0' : o.codeCache === true ? '1' : o.codeCache;
    const proc = startProcess(
      'serverless package',
      process.execPath,
      [join(ROOT, 'node_modules', 'serverless', 'bin', 'serverless.js'), 'package', '--stage', o.stage ?? 'local', '--package', out],
      {
        cwd: shadow,
        env,
        echo: o.echo,
      },
    );
    const timer = setTimeout(() => void stopProcess(proc, 'SIGTERM', 2_000), o.timeoutMs ?? 180_000);
    const code = await proc.exited.finally(() => clearTimeout(timer));
    if (code !== 0) throw new Error(`serverless package exited with ${code}:\n${proc.output.slice(-30).join('\n')}`);
    return { dir: out, functions: readPackage(out), esbuild: readEsbuildOptions(out), remove };
  } catch (err) {
    remove();
    throw err;
  }
}

function copyTreeLinks(shadow: string): void {
  mkdirSync(shadow, { recursive: true });
  for (const entry of readdirSync(ROOT)) {
    if (NOT_SHADOWED.has(entry)) continue;
    symlinkSync(join(ROOT, entry), join(shadow, entry));
  }
  copyFileSync(join(ROOT, 'serverless.yml'), join(shadow, 'serverless.yml'));
}
