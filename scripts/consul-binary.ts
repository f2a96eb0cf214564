/**
 * Finds or builds the pinned Consul agent binary.
 *
 * No package registry reachable here ships Consul, so we build it from the Go
 * module proxy through the helper module in scripts/consul-build/ and cache the
 * result under ~/.cache so a machine builds it once.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { ensurePinnedGoTool, toolOutput, type PinnedGoTool } from './tool-cache';

/** The pinned Consul version: the last MPL-2.0 release line. */
export const CONSUL_VERSION = '1.16.1';

const BUILD_MODULE_DIR = resolve(__dirname, 'consul-build');

function versionOf(bin: string): [number, number] | undefined {
  const m = /Consul v(\d+)\.(\d+)\./.exec(toolOutput(bin, ['version']).stdout);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function consulOnPath(): string | undefined {
  const out = spawnSync('sh', ['-c', 'command -v consul'], { encoding: 'utf8' });
  const bin = out.stdout.trim();
  if (!bin) return undefined;
  const v = versionOf(bin);
  // Any 1.15+ agent speaks the APIs we use (blocking queries, ACLs, gRPC checks).
  return v && (v[0] > 1 || (v[0] === 1 && v[1] >= 15)) ? bin : undefined;
}

const CONSUL: PinnedGoTool = {
  name: 'consul',
  label: 'Consul',
  version: CONSUL_VERSION,
  envVar: 'CONSUL_BIN',
  buildDir: BUILD_MODULE_DIR,
  pkg: 'github.com/hashicorp/consul',
  ldflags: '-s -w -checklinkname=0',
  buildTime: 'a few minutes on 2 cores',
  // The cached build is the pinned one by construction (its folder names the version): it need only run.
  isPinned: (bin) => versionOf(bin) !== undefined,
  fallback: consulOnPath,
};

/** Returns a path to a usable Consul binary ($CONSUL_BIN, the cached build, or a 1.15+ one on PATH), building and caching it when needed. */
export function ensureConsulBinary(log: (line: string) => void = () => {}): string {
  return ensurePinnedGoTool(CONSUL, log);
}

if (require.main === module) {
  const bin = ensureConsulBinary((l) => console.error(l));
  console.log(bin);
}
