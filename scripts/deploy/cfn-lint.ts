/**
 * cfn-lint on the CloudFormation templates the Serverless CLI really packages, for every stage that
 * matters, and on deployer-policy.json (`npm run lint:cfn`, part of `npm test`). Zero errors; every
 * warning must be listed, with its reason, in cfn-lint-allow.json, and every listed warning must
 * still occur.
 *
 *   npm run lint:cfn                                   # the local and the ci stage
 *   npm run lint:cfn -- --stage prod --param k=v ...   # one other stage, as you would deploy it
 *
 * cfn-lint comes from the project's cached moto venv (moto[server] installs it).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { motoPython } from './moto-for-deploy';
import { copyService, DEFAULT_REGION, DEPLOYED_STAGE, LOCAL_STAGE, packageStage, type StageSpec } from './serverless-cli';

/** One cfn-lint finding. */
export interface CfnFinding {
  file: string;
  rule: string;
  level: string;
  path: string;
  line: number;
  message: string;
}

/** One allowed warning. */
export interface AllowEntry {
  rule: string;
  path: string;
  reason: string;
}

/** The verdict on a set of findings. */
export interface LintVerdict {
  errors: CfnFinding[];
  /** Warnings (and infos) that no allow-list entry covers. */
  unlisted: CfnFinding[];
  allowed: CfnFinding[];
  /** Entries that matched no finding. */
  unused: AllowEntry[];
}

/** The templates of a package directory, in the order the framework sends them. */
export const TEMPLATES = ['cloudformation-template-create-stack.json', 'cloudformation-template-update-stack.json'];

const ALLOW_FILE = join(__dirname, 'cfn-lint-allow.json');
/** Hand-written templates linted with the packaged ones (cfn-lint also checks IAM action names). */
export const OWN_TEMPLATES = [join(__dirname, 'deployer-policy.json')];

// The venv's `cfn-lint` script keeps the shebang of the temp dir the venv was built in, so call its entry point.
const CFN_LINT_MAIN = 'import sys; from cfnlint.runner import main; sys.exit(main())';

/** Reads and checks the allow-list: warnings only, each with a reason. */
export function loadAllowList(file = ALLOW_FILE): AllowEntry[] {
  const entries = (JSON.parse(readFileSync(file, 'utf8')) as { allow: AllowEntry[] }).allow;
  for (const e of entries) {
    if (!/^[WI]\d+$/.test(e.rule)) throw new Error(`${file}: ${e.rule} is not a warning; errors are never allowed`);
    if (!e.path || !e.reason?.trim()) throw new Error(`${file}: the ${e.rule} entry needs a path and a reason`);
  }
  return entries;
}

/** Runs cfn-lint on `files` for `region` and returns every finding. */
export async function runCfnLint(files: string[], region = DEFAULT_REGION): Promise<CfnFinding[]> {
  const child = spawn(motoPython(), ['-c', CFN_LINT_MAIN, '--format', 'json', '--regions', region, '--', ...files], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  // Exit codes are a bit mask of finding levels (2 error, 4 warning, 8 info); 1 is a failed run.
  if (code === null || code === 1 || code > 15) throw new Error(`cfn-lint failed (exit ${code}):\n${err}${out}`);
  type Raw = {
    Filename: string;
    Level: string;
    Message: string;
    Location: { Path: (string | number)[]; Start: { LineNumber: number } };
    Rule: { Id: string };
  };
  const raw = JSON.parse(out || '[]') as Raw[];
  return raw.map((r) => ({
    file: r.Filename,
    rule: r.Rule.Id,
    level: r.Level,
    path: r.Location.Path.join('/'),
    line: r.Location.Start.LineNumber,
    message: r.Message,
  }));
}

/** Sorts findings into errors, allowed and unlisted warnings; reports allow-list entries that matched nothing. */
export function judge(findings: CfnFinding[], allow: AllowEntry[]): LintVerdict {
  const used = new Set<AllowEntry>();
  const v: LintVerdict = { errors: [], unlisted: [], allowed: [], unused: [] };
  for (const f of findings) {
    if (f.rule.startsWith('E')) {
      v.errors.push(f);
      continue;
    }
    const entry = allow.find((e) => e.rule === f.rule && (f.path === e.path || f.path.startsWith(`${e.path}/`)));
    if (entry) {
      used.add(entry);
      v.allowed.push(f);
    } else v.unlisted.push(f);
  }
  v.unused = allow.filter((e) => !used.has(e));
  return v;
}

/** Packages `spec` into a temp dir and lints its templates. */
export async function lintStage(spec: StageSpec): Promise<CfnFinding[]> {
  const copy = copyService();
  const out = mkdtempSync(join(tmpdir(), `cgl-package-${spec.stage}-`));
  try {
    await packageStage(copy, spec, out);
    return await runCfnLint(
      TEMPLATES.map((t) => join(out, t)),
      spec.region ?? DEFAULT_REGION,
    );
  } finally {
    copy.remove();
    rmSync(out, { recursive: true, force: true });
  }
}

function show(f: CfnFinding): string {
  return `  ${f.rule} ${f.file}:${f.line} ${f.path}\n      ${f.message}`;
}

/** No arguments: the stages that matter. `--stage` (with `--region`, `--param k=v`...): that one stage. */
function stagesToLint(): StageSpec[] {
  const { values } = parseArgs({
    options: { stage: { type: 'string' }, region: { type: 'string' }, param: { type: 'string', multiple: true, default: [] } },
  });
  if (!values.stage) {
    if (values.region || values.param.length) throw new Error('--region and --param need --stage');
    return [LOCAL_STAGE, DEPLOYED_STAGE];
  }
  const params = Object.fromEntries(values.param.map((p) => p.split(/=(.*)/s, 2)).map(([k, v]) => [k, v ?? '']));
  return [{ stage: values.stage, region: values.region, params }];
}

async function main(): Promise<void> {
  const stages = stagesToLint();
  const allow = loadAllowList();
  const label = (prefix: string) => (fs: CfnFinding[]) => fs.map((f) => ({ ...f, file: `${prefix}${f.file.split('/').pop()}` }));
  const findings = (
    await Promise.all([...stages.map((s) => lintStage(s).then(label(`${s.stage}/`))), runCfnLint(OWN_TEMPLATES).then(label(''))])
  ).flat();
  const v = judge(findings, allow);
  const full = stages.length > 1;
  console.log(
    `cfn-lint (stages ${stages.map((s) => s.stage).join(', ')}; deployer-policy.json): ${v.errors.length} error(s), ${v.allowed.length} allowed warning(s), ${v.unlisted.length} unlisted`,
  );
  if (v.allowed.length)
    console.log(
      `allowed (reasons in scripts/deploy/cfn-lint-allow.json):\n${v.allowed.map((f) => `  ${f.rule} ${f.file}:${f.line} ${f.path}`).join('\n')}`,
    );
  if (v.errors.length) console.error(`✖ errors (never allowed):\n${v.errors.map(show).join('\n')}`);
  if (v.unlisted.length)
    console.error(
      `✖ warnings not in scripts/deploy/cfn-lint-allow.json (fix them, or list them with a reason):\n${v.unlisted.map(show).join('\n')}`,
    );
  // Only a run over all the stages can tell that an entry is stale.
  if (full && v.unused.length)
    console.error(
      `✖ allow-list entries that match nothing any more (remove them):\n${v.unused.map((e) => `  ${e.rule} ${e.path}`).join('\n')}`,
    );
  if (v.errors.length || v.unlisted.length || (full && v.unused.length)) process.exit(1);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
