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
import { resolve } from 'node:path';
import { ensurePinnedGoTool, pinnedModuleVersion, toolOutput, type PinnedGoTool } from './tool-cache';

const BUILD_MODULE_DIR = resolve(__dirname, 'coredns-build');
const COREDNS_MODULE = 'github.com/coredns/coredns';

/** The pinned CoreDNS version (as required in scripts/coredns-build/go.mod). */
export const COREDNS_VERSION = pinnedModuleVersion(BUILD_MODULE_DIR, COREDNS_MODULE);

const COREDNS: PinnedGoTool = {
  name: 'coredns',
  label: 'CoreDNS',
  version: COREDNS_VERSION,
  envVar: 'COREDNS_BIN',
  buildDir: BUILD_MODULE_DIR,
  // The helper module's own main package, not CoreDNS's: it picks the plugins and their order.
  pkg: '.',
  buildTime: 'forward + cache only, about a minute on 2 cores',
  isPinned: (bin) => toolOutput(bin, ['-version']).stdout.startsWith(`CoreDNS-${COREDNS_VERSION.replace(/^v/, '')}\n`),
};

/** Returns the path of the pinned CoreDNS ($COREDNS_BIN if set), building and caching it when missing. */
export function ensureCoreDnsBinary(log: (line: string) => void = () => {}): string {
  return ensurePinnedGoTool(COREDNS, log);
}

if (require.main === module) {
  const bin = ensureCoreDnsBinary((l) => console.error(l));
  console.log(bin);
}
