/**
 * Runs the real Serverless CLI (osls) on a throw-away copy of the service, so packaging and deploying
 * never touch the shared `.serverless/` and `.esbuild/` of the working tree: `deploy --package <dir>`
 * moves the artifacts into `<service>/.serverless` before it uploads them.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The repository root (the service directory). */
export const ROOT = join(__dirname, '..', '..');

/** The region every stage deploys to unless told otherwise (serverless.yml's default). */
export const DEFAULT_REGION = 'eu-west-1';

/** A stage worth packaging: its name and the `--param` values it needs. */
export interface StageSpec {
  stage: string;
  region?: string;
  params: Record<string, string>;
}

/**
 * The stages that matter: `local` (tokens from the environment, what serverless-offline runs) and
 * `ci`, a deployed stage (tokens only as SSM parameter names). VPC lists keep their empty defaults.
 */
export const LOCAL_STAGE: StageSpec = { stage: 'local', params: {} };
// The gateway discovers through Consul with the Cloud Map mirror as its fallback (the namespace deploy:local creates).
// Alarms and the dashboard are on, with an SNS topic for their actions, so cfn-lint and deploy:local see them.
export const DEPLOYED_STAGE: StageSpec = {
  stage: 'ci',
  params: {
    consulHttpAddr: 'consul.service.internal:8500',
    cloudMapNamespaceId: 'ns-0123456789abcdef',
    discoveryFallback: 'cloudmap',
    cloudMapNamespace: 'consul-grpc-lambda-ci',
    alarms: 'true',
    alarmTopicArn: 'arn:aws:sns:eu-west-1:000000000000:consul-grpc-lambda-ci-alarms',
  },
};

// Build output, caches and VCS data of the working tree stay out of the copy.
const NOT_COPIED = new Set(['node_modules', '.git', '.serverless', '.esbuild', '.build', '.local-stack', 'coverage']);

/** A temporary copy of the service directory; `node_modules` is a symlink to the real one. */
export interface ServiceCopy {
  dir: string;
  remove(): void;
}

/** Copies the service (sources, serverless.yml, package files) into a new temp directory. */
export function copyService(): ServiceCopy {
  const dir = mkdtempSync(join(tmpdir(), 'cgl-service-'));
  for (const name of readdirSync(ROOT)) {
    if (NOT_COPIED.has(name)) continue;
    cpSync(join(ROOT, name), join(dir, name), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Output of one CLI run. */
export interface CliResult {
  code: number | null;
  output: string;
}

/** Options of a CLI run. */
export interface CliOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Called with every chunk of output as it comes (e.g. process.stderr.write). */
  echo?: (chunk: string) => void;
  timeoutMs?: number;
}

/** `--stage/--region/--param` arguments of a stage. */
export function stageArgs(s: StageSpec): string[] {
  return ['--stage', s.stage, '--region', s.region ?? DEFAULT_REGION, ...Object.entries(s.params).map(([k, v]) => `--param=${k}=${v}`)];
}

/** Runs `serverless <args>` in `cwd`; rejects with the output's tail when it fails. */
export function runServerless(args: string[], o: CliOptions): Promise<CliResult> {
  const bin = join(ROOT, 'node_modules', 'serverless', 'bin', 'serverless.js');
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: o.cwd,
    env: {
      ...process.env,
      // The SDK's notice that it will drop Node 20 (9 lines per run); as in `npm start`, set it to anything but "true" to see it.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? 'true',
      ...o.env,
      SLS_TELEMETRY_DISABLED: '1',
      SLS_NOTIFICATIONS_MODE: 'off',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const take = (b: Buffer) => {
    const s = b.toString();
    output += s;
    o.echo?.(s);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 300_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ code, output });
      else reject(new Error(`serverless ${args.join(' ')} exited with ${code}:\n${output.split('\n').slice(-40).join('\n')}`));
    });
  });
}

/** Packages `spec` from the service copy into `outDir` (`serverless package --package <outDir>`). */
export function packageStage(copy: ServiceCopy, spec: StageSpec, outDir: string, o: Omit<CliOptions, 'cwd'> = {}): Promise<CliResult> {
  return runServerless(['package', ...stageArgs(spec), '--package', outDir], { ...o, cwd: copy.dir });
}
