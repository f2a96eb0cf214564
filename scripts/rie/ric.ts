/**
 * Finds or installs the pinned AWS Lambda Runtime Interface Client for Node
 * (npm `aws-lambda-ric`), the same client the managed nodejs runtimes use: it polls
 * the Runtime API, loads the handler from LAMBDA_TASK_ROOT/_HANDLER and posts results.
 *
 * It is not a dependency of the project. Its install compiles curl, aws-lambda-cpp and
 * a Node addon (about a minute on 2 cores) and warns that it wants Node >= 22, so it is
 * installed on first use into ~/.cache/consul-grpc-lambda/aws-lambda-ric-<version>/ from
 * scripts/rie/ric/package.json + package-lock.json (`npm ci`, so every download is checked
 * against the committed integrity hashes), and `npm install` stays fast for everyone else.
 *
 * Native build prerequisites (Debian package → command it provides): cmake, make, g++,
 * python3 (node-gyp), xz-utils (the bundled sources are .tar.xz). autoconf, automake and
 * libtool are NOT needed: the bundled curl ships a generated `configure` that is newer
 * than configure.ac, so its preinstall script skips `autoreconf`. A missing prerequisite
 * is installed with apt-get when running as root on Debian/Ubuntu; otherwise the error
 * names the command to run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { installIntoCache, toolCacheDir } from '../tool-cache';

const PIN_DIR = resolve(__dirname, 'ric');

function pinnedVersion(): string {
  const pkg = JSON.parse(readFileSync(join(PIN_DIR, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const v = pkg.dependencies?.['aws-lambda-ric'];
  if (!v || !/^\d+\.\d+\.\d+$/.test(v)) throw new Error(`${PIN_DIR}/package.json must pin aws-lambda-ric to an exact version, got ${v}`);
  return v;
}

/** The pinned aws-lambda-ric version (scripts/rie/ric/package.json). */
export const RIC_VERSION = pinnedVersion();

/** Directory of the cached install for the pinned version. */
export function ricCacheDir(): string {
  return toolCacheDir('aws-lambda-ric', RIC_VERSION);
}

/** A lock that changes (a new transitive pin) makes the cache stale, as a new version does. */
function lockDigest(): string {
  return createHash('sha256')
    .update(readFileSync(join(PIN_DIR, 'package-lock.json')))
    .digest('hex');
}

const STAMP = '.consul-grpc-lambda-ric';
const packageDir = (root: string) => join(root, 'node_modules', 'aws-lambda-ric');

function isInstalled(root: string): boolean {
  try {
    return (
      readFileSync(join(root, STAMP), 'utf8').trim() === lockDigest() &&
      existsSync(join(packageDir(root), 'index.mjs')) &&
      existsSync(join(packageDir(root), 'rapid-client.node'))
    );
  } catch {
    return false;
  }
}

/** Debian packages the native build needs, by the command each provides. */
const PREREQUISITES: readonly { command: string; debianPackage: string }[] = [
  { command: 'cmake', debianPackage: 'cmake' },
  { command: 'make', debianPackage: 'make' },
  { command: 'g++', debianPackage: 'g++' },
  { command: 'python3', debianPackage: 'python3' },
  { command: 'xz', debianPackage: 'xz-utils' },
];

const hasCommand = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** Installs missing build prerequisites with apt-get (root on Debian/Ubuntu only); returns the packages installed. */
export function ensureBuildPrerequisites(log: (line: string) => void = () => {}): string[] {
  const missing = PREREQUISITES.filter((p) => !hasCommand(p.command)).map((p) => p.debianPackage);
  if (missing.length === 0) return [];
  const command = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !hasCommand('apt-get')) {
    throw new Error(
      `aws-lambda-ric needs ${missing.join(', ')} to compile its native client; install them, e.g. \`sudo ${command}\` on Debian/Ubuntu`,
    );
  }
  log(`installing the native build prerequisites of aws-lambda-ric: ${missing.join(' ')} (apt-get)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: ['ignore', 'inherit', 'inherit'], env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: ['ignore', 'inherit', 'inherit'], env });
  const still = PREREQUISITES.filter((p) => !hasCommand(p.command)).map((p) => p.command);
  if (still.length) throw new Error(`apt-get installed ${missing.join(' ')} but ${still.join(', ')} is still missing`);
  return missing;
}

/** Node's own headers, when this Node install ships them: node-gyp then downloads nothing. */
function nodeHeadersDir(): string | undefined {
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

/** Returns the path of the cached aws-lambda-ric package ($AWS_LAMBDA_RIC_DIR if set), installing it when missing. */
export function ensureRic(log: (line: string) => void = () => {}): string {
  if (process.env.AWS_LAMBDA_RIC_DIR) return process.env.AWS_LAMBDA_RIC_DIR;
  const root = ricCacheDir();
  if (isInstalled(root)) return packageDir(root);

  ensureBuildPrerequisites(log);
  log(`installing aws-lambda-ric ${RIC_VERSION} into ${root} (first time only; compiles native code, about a minute on 2 cores)…`);
  installIntoCache(root, isInstalled, (tmp) => {
    mkdirSync(tmp, { recursive: true });
    for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(PIN_DIR, f), join(tmp, f));
    const headers = nodeHeadersDir();
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: tmp,
      // The bundled build runs in npm's lifecycle scripts; its output matters only when it fails.
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        ...(headers ? { npm_config_nodedir: headers } : {}),
        npm_config_engine_strict: 'false',
        npm_config_ignore_scripts: 'false',
      },
    });
    // The addon must load in this Node (N-API, so one build serves Node 20 and 22).
    // Loading it reads AWS_LAMBDA_RUNTIME_API (and aborts without it); it connects only on the first call.
    execFileSync(process.execPath, ['-e', `require(${JSON.stringify(join(packageDir(tmp), 'rapid-client.node'))})`], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9' },
    });
    writeFileSync(join(tmp, STAMP), `${lockDigest()}\n`);
  });
  if (!isInstalled(root)) throw new Error(`installed aws-lambda-ric into ${root} but it is incomplete`);
  log(`aws-lambda-ric cached at ${root}`);
  return packageDir(root);
}

if (require.main === module) {
  const dir = ensureRic((l) => console.error(l));
  console.log(dir);
}
