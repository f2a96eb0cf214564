/**
 * Finds or builds the pinned grpcurl, the stock gRPC CLI the integration tests
 * use to prove that health and reflection work for ordinary clients.
 *
 * Like Consul, it is built from the Go module proxy through a helper module
 * (scripts/grpcurl-build/) whose committed go.sum checks every download, and
 * cached under ~/.cache so a machine builds it once.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { goBuild, pinnedModuleVersion, toolCacheDir } from './tool-cache';

const BUILD_MODULE_DIR = resolve(__dirname, 'grpcurl-build');
const GRPCURL_MODULE = 'github.com/fullstorydev/grpcurl';

/** The pinned grpcurl version (as required in scripts/grpcurl-build/go.mod). */
export const GRPCURL_VERSION = pinnedModuleVersion(BUILD_MODULE_DIR, GRPCURL_MODULE);

/** Directory that holds the cached binary for the pinned version. */
export function grpcurlCacheDir(): string {
  return toolCacheDir('grpcurl', GRPCURL_VERSION);
}

function reportsPinnedVersion(bin: string): boolean {
  const out = spawnSync(bin, ['-version'], { encoding: 'utf8', timeout: 10_000 });
  return `${out.stdout ?? ''}${out.stderr ?? ''}`.trim() === `grpcurl ${GRPCURL_VERSION}`;
}

/** Returns the path of the pinned grpcurl ($GRPCURL_BIN if set), building and caching it when missing. */
export function ensureGrpcurlBinary(log: (line: string) => void = () => {}): string {
  if (process.env.GRPCURL_BIN) return process.env.GRPCURL_BIN;
  const cached = join(grpcurlCacheDir(), 'grpcurl');
  if (existsSync(cached) && reportsPinnedVersion(cached)) return cached;

  log(`building grpcurl ${GRPCURL_VERSION} from the Go module proxy (first time only, about 1-2 minutes on 2 cores)…`);
  // grpcurl reports "dev build" unless told its version; the cache check relies on it.
  goBuild(BUILD_MODULE_DIR, `${GRPCURL_MODULE}/cmd/grpcurl`, cached, `-s -w -X main.version=${GRPCURL_VERSION}`);
  if (!reportsPinnedVersion(cached)) throw new Error(`built ${cached} but it does not report grpcurl ${GRPCURL_VERSION}`);
  log(`grpcurl cached at ${cached}`);
  return cached;
}

if (require.main === module) {
  const bin = ensureGrpcurlBinary((l) => console.error(l));
  console.log(bin);
}
