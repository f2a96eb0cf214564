/**
 * Where the project caches the tools it builds from source with Go (Consul, grpcurl,
 * the Lambda runtime emulator), one folder per pinned version, and the one way they
 * are built: from a small module in scripts/ whose committed go.mod pins the version
 * and whose go.sum checks every download.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Cache folder for `tool` at `version`, under $CONSUL_GRPC_LAMBDA_CACHE or ~/.cache/consul-grpc-lambda. */
export function toolCacheDir(tool: string, version: string): string {
  const base = process.env.CONSUL_GRPC_LAMBDA_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'consul-grpc-lambda');
  return join(base, `${tool}-${version}`);
}

/** The version `module` is required at in `<buildDir>/go.mod`: the one place a tool's version is pinned. */
export function pinnedModuleVersion(buildDir: string, module: string): string {
  const goMod = readFileSync(join(buildDir, 'go.mod'), 'utf8');
  const m = new RegExp(`^require ${module.replaceAll('.', '\\.')} (v\\S+)$`, 'm').exec(goMod);
  if (!m?.[1]) throw new Error(`${buildDir}/go.mod does not require ${module}`);
  return m[1];
}

/** Builds Go package `pkg` with the module in `buildDir` into `out`; a half-written binary is never left at `out`. */
export function goBuild(buildDir: string, pkg: string, out: string, ldflags = '-s -w'): void {
  mkdirSync(dirname(out), { recursive: true });
  // Built beside the target and renamed, so a concurrent or interrupted build never leaves a half-written binary.
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    execFileSync('go', ['build', '-mod=readonly', '-trimpath', `-ldflags=${ldflags}`, '-o', tmp, pkg], {
      cwd: buildDir,
      stdio: ['ignore', 'inherit', 'inherit'],
      // go.sum is committed, so every download is checked against it; the public checksum
      // database is not reachable from every machine we run on. GOFLAGS is replaced so a
      // caller's -mod=vendor or similar cannot change what is built.
      env: { ...process.env, CGO_ENABLED: '0', GOSUMDB: 'off', GOFLAGS: '-buildvcs=false' },
    });
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
}
