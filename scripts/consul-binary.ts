/**
 * Finds or builds the pinned Consul agent binary.
 *
 * No package registry reachable here ships Consul, so we build it from the Go
 * module proxy through the helper module in scripts/consul-build/ and cache the
 * result under ~/.cache so a machine builds it once.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { goBuild, toolCacheDir } from './tool-cache';

/** The pinned Consul version: the last MPL-2.0 release line. */
export const CONSUL_VERSION = '1.16.1';

const BUILD_MODULE_DIR = resolve(__dirname, 'consul-build');

/** Directory that holds the cached binary for the pinned version. */
export function consulCacheDir(): string {
  return toolCacheDir('consul', CONSUL_VERSION);
}

function versionOf(bin: string): [number, number] | undefined {
  const out = spawnSync(bin, ['version'], { encoding: 'utf8', timeout: 10_000 });
  const m = /Consul v(\d+)\.(\d+)\./.exec(out.stdout ?? '');
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

/** Returns a path to a usable Consul binary, building and caching it when needed. */
export function ensureConsulBinary(log: (line: string) => void = () => {}): string {
  if (process.env.CONSUL_BIN) return process.env.CONSUL_BIN;
  const cached = join(consulCacheDir(), 'consul');
  if (existsSync(cached) && versionOf(cached)) return cached;
  const onPath = consulOnPath();
  if (onPath) return onPath;

  log(`building Consul v${CONSUL_VERSION} from the Go module proxy (first time only, a few minutes on 2 cores)…`);
  goBuild(BUILD_MODULE_DIR, 'github.com/hashicorp/consul', cached, '-s -w -checklinkname=0');
  if (!versionOf(cached)) throw new Error(`built ${cached} but it does not run`);
  log(`Consul cached at ${cached}`);
  return cached;
}

if (require.main === module) {
  const bin = ensureConsulBinary((l) => console.error(l));
  console.log(bin);
}
