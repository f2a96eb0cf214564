/**
 * Where the project caches the tools it builds or installs (Consul, grpcurl, CoreDNS, the Lambda
 * runtime emulator and client, moto), one folder per pinned version; the one way a folder is filled
 * (beside it, then renamed); and the one way the Go tools are found or built: from a small module in
 * scripts/ whose committed go.mod pins the version and whose go.sum checks every download.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Cache folder for `tool` at `version`, under $CONSUL_GRPC_LAMBDA_CACHE or ~/.cache/consul-grpc-lambda. */
export function toolCacheDir(tool: string, version: string): string {
  const base = process.env.CONSUL_GRPC_LAMBDA_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'consul-grpc-lambda');
  return join(base, `${tool}-${version}`);
}

/**
 * Fills the cache folder `dir` with `install(tmp)`, run in a fresh folder beside it that is then renamed
 * into place: an interrupted install is never seen as complete, a stale one (not `isReady`) is replaced,
 * and when another process finishes first its install is kept.
 */
export function installIntoCache(dir: string, isReady: (dir: string) => boolean, install: (tmp: string) => void): void {
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    install(tmp);
    if (existsSync(dir) && !isReady(dir)) rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      if (!isReady(dir)) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
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

/** A tool built from a pinned Go module: where its build lives and how to tell a binary is the pinned one. */
export interface PinnedGoTool {
  /** The name of the binary and of its cache folder. */
  name: string;
  /** How log lines and errors call it. */
  label: string;
  version: string;
  /** The environment variable that names a binary to use instead. */
  envVar: string;
  buildDir: string;
  /** The Go package to build, relative to buildDir's module. */
  pkg: string;
  ldflags?: string;
  /** What the first build costs, for the log line, e.g. "about a minute on 2 cores". */
  buildTime: string;
  /** True when `bin` is the pinned version. */
  isPinned(bin: string): boolean;
  /** Another usable binary to take when none is cached (e.g. one on PATH). */
  fallback?(): string | undefined;
  /** Runs after a good build, before the check (e.g. writes a version stamp). */
  afterBuild?(bin: string): void;
}

/** The path of `tool`: $envVar if set, the cached pinned build, its fallback, or a fresh build cached for next time. */
export function ensurePinnedGoTool(tool: PinnedGoTool, log: (line: string) => void = () => {}): string {
  const named = process.env[tool.envVar];
  if (named) return named;
  const cached = join(toolCacheDir(tool.name, tool.version), tool.name);
  if (existsSync(cached) && tool.isPinned(cached)) return cached;
  const other = tool.fallback?.();
  if (other) return other;

  log(`building ${tool.label} ${tool.version} from the Go module proxy (first time only, ${tool.buildTime})…`);
  goBuild(tool.buildDir, tool.pkg, cached, tool.ldflags);
  tool.afterBuild?.(cached);
  if (!tool.isPinned(cached)) throw new Error(`built ${cached} but it is not ${tool.label} ${tool.version}`);
  log(`${tool.label} cached at ${cached}`);
  return cached;
}

/** What `bin args…` prints (stdout, then stderr) within 10 s: how a tool tells its version. */
export function toolOutput(bin: string, args: string[]): { stdout: string; stderr: string } {
  const out = spawnSync(bin, args, { encoding: 'utf8', timeout: 10_000 });
  return { stdout: out.stdout ?? '', stderr: out.stderr ?? '' };
}
