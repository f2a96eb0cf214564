/**
 * Finds or builds the pinned grpcurl, the stock gRPC CLI the integration tests
 * use to prove that health and reflection work for ordinary clients.
 *
 * Like Consul, it is built from the Go module proxy through a helper module
 * (scripts/grpcurl-build/) whose committed go.sum checks every download, and
 * cached under ~/.cache so a machine builds it once.
 */
import { resolve } from 'node:path';
import { ensurePinnedGoTool, pinnedModuleVersion, toolOutput, type PinnedGoTool } from './tool-cache';

const BUILD_MODULE_DIR = resolve(__dirname, 'grpcurl-build');
const GRPCURL_MODULE = 'github.com/fullstorydev/grpcurl';

/** The pinned grpcurl version (as required in scripts/grpcurl-build/go.mod). */
export const GRPCURL_VERSION = pinnedModuleVersion(BUILD_MODULE_DIR, GRPCURL_MODULE);

const GRPCURL: PinnedGoTool = {
  name: 'grpcurl',
  label: 'grpcurl',
  version: GRPCURL_VERSION,
  envVar: 'GRPCURL_BIN',
  buildDir: BUILD_MODULE_DIR,
  pkg: `${GRPCURL_MODULE}/cmd/grpcurl`,
  // grpcurl reports "dev build" unless told its version; the cache check relies on it.
  ldflags: `-s -w -X main.version=${GRPCURL_VERSION}`,
  buildTime: 'about 1-2 minutes on 2 cores',
  isPinned: (bin) => {
    const out = toolOutput(bin, ['-version']);
    return `${out.stdout}${out.stderr}`.trim() === `grpcurl ${GRPCURL_VERSION}`;
  },
};

/** Returns the path of the pinned grpcurl ($GRPCURL_BIN if set), building and caching it when missing. */
export function ensureGrpcurlBinary(log: (line: string) => void = () => {}): string {
  return ensurePinnedGoTool(GRPCURL, log);
}

if (require.main === module) {
  const bin = ensureGrpcurlBinary((l) => console.error(l));
  console.log(bin);
}
