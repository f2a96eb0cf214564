/**
 * Finds or builds the pinned CoreDNS, the caching DNS forwarder that stands
 * between the functions and Consul's DNS interface (the part a Route 53
 * Resolver forwarding rule plays in AWS).
 *
 * Like Consul and grpcurl, it is built from the Go module proxy through a helper
 * module (scripts/coredns-build/) whose committed go.sum checks every download,
 * and cached under ~/.cache so a machine builds it once. The helper's main
 * package links only the plugins the forwarder uses (bind, ready, prometheus,
 * errors, log, cache, forward), which keeps the build to about a minute.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { goBuild, pinnedModuleVersion, toolCacheDir } from './tool-cache';

const BUILD_MODULE_DIR = resolve(__dirname, 'coredns-build');
const COREDNS_MODULE = 'github.com/coredns/coredns';

/** The pinned CoreDNS version (as required in scripts/coredns-build/go.mod). */
export const COREDNS_VERSION = pinnedModuleVersion(BUILD_MODULE_DIR, COREDNS_MODULE);

/** Directory that holds the cached binary for the pinned version. */
export function coreDnsCacheDir(): string {
  return toolCacheDir('coredns', COREDNS_VERSION);
}

function reportsPinnedVersion(bin: string): boolean {
  const out = spawnSync(bin, ['-version'], { encoding: 'utf8', timeout: 10_000 });
  return (out.stdout ?? '').startsWith(`CoreDNS-${COREDNS_VERSION.replace(/^v/, '')}\n`);
}

/** Returns the path of the pinned CoreDNS ($COREDNS_BIN if set), building and caching it when missing. */
export function ensureCoreDnsBinary(log: (line: string) => void = () => {}): string {
  if (process.env.COREDNS_BIN) return process.env.COREDNS_BIN;
  const cached = join(coreDnsCacheDir(), 'coredns');
  if (existsSync(cached) && reportsPinnedVersion(cached)) return cached;

  log(`building CoreDNS ${COREDNS_VERSION} (forward + cache only) from the Go module proxy (first time only, about a minute on 2 cores)…`);
  // The helper module's own main package, not CoreDNS's: it picks the plugins and their order.
  goBuild(BUILD_MODULE_DIR, '.', cached);
  if (!reportsPinnedVersion(cached)) throw new Error(`built ${cached} but it does not report CoreDNS ${COREDNS_VERSION}`);
  log(`CoreDNS cached at ${cached}`);
  return cached;
}

if (require.main === module) {
  const bin = ensureCoreDnsBinary((l) => console.error(l));
  console.log(bin);
}
