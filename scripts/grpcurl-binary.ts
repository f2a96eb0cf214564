/**
 * Finds or builds the pinned grpcurl, the stock gRPC CLI the integration tests
 * use to prove that health and reflection work for ordinary clients.
 *
 * Like Consul, it is built from the Go module proxy through a helper module
 * (scripts/grpcurl-build/) whose committed go.sum checks every download, and
 * cached under ~/.cache so a machine builds it once.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { toolCacheDir } from './tool-cache';

const BUILD_MODULE_DIR = resolve(__dirname, 'grpcurl-build');
const GRPCURL_MODULE = 'github.com/fullstorydev/grpcurl';

function pinnedVersion(): string {
  // go.mod is the one place the version is pinned, so the cache can never name a different one.
  const goMod = readFileSync(join(BUILD_MODULE_DIR, 'go.mod'), 'utf8');
  const m = new RegExp(`^require ${GRPCURL_MODULE.replaceAll('.', '\\.')} (v\\S+)$`, 'm').exec(goMod);
  if (!m?.[1]) throw new Error(`${BUILD_MODULE_DIR}/go.mod does not require ${GRPCURL_MODULE}`);
  return m[1];
}

/** The pinned grpcurl version (as required in scripts/grpcurl-build/go.mod). */
export const GRPCURL_VERSION = pinnedVersion();

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
  mkdirSync(grpcurlCacheDir(), { recursive: true });
  // Built beside the target and renamed, so a concurrent or interrupted build never leaves a half-written binary.
  const tmp = `${cached}.tmp-${process.pid}`;
  try {
    execFileSync(
      'go',
      [
        'build', '-mod=readonly', '-trimpath',
        // grpcurl reports "dev build" unless told its version; the cache check relies on it.
        `-ldflags=-s -w -X main.version=${GRPCURL_VERSION}`,
        '-o', tmp, `${GRPCURL_MODULE}/cmd/grpcurl`,
      ],
      {
        cwd: BUILD_MODULE_DIR,
        stdio: ['ignore', 'inherit', 'inherit'],
        // go.sum is committed, so every download is checked against it; the public
        // checksum database is not reachable from every machine we run on. GOFLAGS is
        // replaced so a caller's -mod=vendor or similar cannot change what is built.
        env: { ...process.env, CGO_ENABLED: '0', GOSUMDB: 'off', GOFLAGS: '-buildvcs=false' },
      },
    );
    renameSync(tmp, cached);
  } finally {
    rmSync(tmp, { force: true });
  }
  if (!reportsPinnedVersion(cached)) throw new Error(`built ${cached} but it does not report grpcurl ${GRPCURL_VERSION}`);
  log(`grpcurl cached at ${cached}`);
  return cached;
}

if (require.main === module) {
  const bin = ensureGrpcurlBinary((l) => console.error(l));
  console.log(bin);
}
