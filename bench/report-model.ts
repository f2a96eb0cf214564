/**
 * The pure half of `npm run bench:report`: checks and merges the sections the benchmarks
 * wrote (<section>.json in bench/out/ or bench/results/) into one document, and states the
 * machine and date of each run (a section's, or a fleet row's own). Each section is checked against the fields the chart and the table read, so a
 * section from an older or broken run is named and skipped instead of drawing nonsense.
 */
import { z } from 'zod';

const run = z.looseObject({ node: z.string(), cpus: z.string(), cores: z.number(), memoryGiB: z.number(), finishedAt: z.string() });
const percentiles = z.looseObject({ n: z.number(), p50: z.number(), p90: z.number().optional(), p99: z.number(), mean: z.number() });
const timing = z.looseObject({ initMs: z.number(), firstInvokeMs: z.number(), totalMs: z.number() });
const envelope = { section: z.string(), run };

/** What each known section must hold; extras are kept, at every depth (looseObject), for latest.json. */
export const SECTION_SCHEMAS = {
  warm: z.looseObject({
    ...envelope,
    latency: z.array(percentiles.extend({ path: z.string() })).min(1),
    ratios: z.record(z.string(), z.number()),
    concurrency: z
      .looseObject({
        inFlight: z.number(),
        greetPerSec: z.number(),
        rawPerSec: z.number(),
        ratio: z.number(),
        rawTracePerSec: z.number().optional(),
        rawTraceRatio: z.number().optional(),
      })
      .optional(),
    cpuPerCallUs: z.record(z.string(), z.number()).optional(),
  }),
  'cold-start': z.looseObject({
    ...envelope,
    greet: timing,
    floor: timing,
    ratio: z.number(),
    breakdown: z.array(z.looseObject({ step: z.string(), ms: z.number() })),
  }),
  bundle: z.looseObject({
    ...envelope,
    functions: z.array(z.looseObject({ name: z.string(), bytes: z.number(), requireMs: z.number(), rssMb: z.number().optional() })),
    grpcJsAlone: z.looseObject({ bytes: z.number().optional(), requireMs: z.number(), rssMb: z.number().optional() }),
  }),
  fleet: z.looseObject({
    ...envelope,
    rows: z.array(
      z.looseObject({
        environments: z.number(),
        processes: z.number(),
        consulRequestsPerSec: z.number(),
        consulCpuPercent: z.number(),
        consulRssMb: z.number(),
        propagationP50Ms: z.number(),
        propagationMaxMs: z.number(),
        connectionsPerIp: z.number(),
        http429: z.number(),
        /** Which discovery source and lease mode the row ran (absent: consul with the agent lease). */
        source: z.string().optional(),
        leaseMode: z.string().optional(),
        agentHttpPerSec: z.number().optional(),
        consulDnsQueriesPerSec: z.number().optional(),
        consulDiscoveryRequestsPerSec: z.number().optional(),
        consulLeaseRequestsPerSec: z.number().optional(),
        propagationTargetMs: z.number().optional(),
        /** The run this row was measured in (machine and time), when rows of several runs share the file. */
        run: run.optional(),
        runFinishedAt: z.string().optional(),
      }),
    ),
    formula: z.string(),
  }),
};
const anySection = z.looseObject(envelope);

export type WarmSection = z.infer<(typeof SECTION_SCHEMAS)['warm']>;
export type ColdStartSection = z.infer<(typeof SECTION_SCHEMAS)['cold-start']>;
export type BundleSection = z.infer<(typeof SECTION_SCHEMAS)['bundle']>;
export type FleetSection = z.infer<(typeof SECTION_SCHEMAS)['fleet']>;
export type RunInfo = z.infer<typeof run>;

/** All sections of the results, as written to latest.json beside them. */
export interface Merged {
  generatedAt: string;
  /** The machine(s) the sections ran on, in words. */
  machine: string;
  /** The day(s) the sections finished, `YYYY-MM-DD` or `YYYY-MM-DD – YYYY-MM-DD`. */
  date: string;
  sections: {
    warm?: WarmSection;
    'cold-start'?: ColdStartSection;
    bundle?: BundleSection;
    fleet?: FleetSection;
    [other: string]: { section: string; run: RunInfo } | undefined;
  };
  /** Files that were not merged, and why. */
  skipped: Array<{ file: string; reason: string }>;
}

/** A machine in words, without its host name: `AMD EPYC, 2 cores, 24 GiB, node v20.20.2`. */
export function machineOf(r: RunInfo): string {
  return `${r.cpus}, ${r.cores} cores, ${r.memoryGiB} GiB, node ${r.node}`;
}

/** The day a run finished, `YYYY-MM-DD` (UTC). */
export function dayOf(r: RunInfo): string {
  return r.finishedAt.slice(0, 10);
}

/** A run in words, for a table row or a chart panel: `2026-12-06, AMD EPYC, 2 cores, 24 GiB, node v20.20.2`. */
export function runLabel(r: RunInfo): string {
  return `${dayOf(r)}, ${machineOf(r)}`;
}

/** The run a fleet row was measured in: its own when it says so, else its section's. */
export function fleetRowRun(section: FleetSection, row: FleetSection['rows'][number]): RunInfo {
  if (row.run) return row.run;
  return row.runFinishedAt ? { ...section.run, finishedAt: row.runFinishedAt } : section.run;
}

/** The distinct labels of `runs`, in order of first appearance: one means every figure came from one run. */
export function distinctRuns(runs: readonly RunInfo[]): string[] {
  return [...new Set(runs.map(runLabel))];
}

/** Merges section files (name and text) into one document; a file that is not JSON or lacks a needed field is skipped with the reason (pure). */
export function mergeSections(files: Array<{ file: string; text: string }>, now: Date): Merged {
  const sections: Merged['sections'] = {};
  const skipped: Merged['skipped'] = [];
  for (const { file, text } of files) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      skipped.push({ file, reason: 'not valid JSON' });
      continue;
    }
    const head = anySection.safeParse(json);
    if (!head.success) {
      skipped.push({ file, reason: describe(head.error) });
      continue;
    }
    const name = head.data.section;
    const schema = (SECTION_SCHEMAS as Record<string, z.ZodType<{ section: string; run: RunInfo }>>)[name] ?? anySection;
    const parsed = schema.safeParse(json);
    if (!parsed.success) skipped.push({ file, reason: `${name}: ${describe(parsed.error)}` });
    else sections[name] = parsed.data;
  }
  const runs = Object.values(sections).flatMap((s) => (s ? [s.run] : []));
  const fleet = sections.fleet;
  if (fleet) runs.push(...fleet.rows.map((r) => fleetRowRun(fleet, r)));
  const machines = [...new Set(runs.map(machineOf))];
  const days = runs.map(dayOf).sort();
  const first = days[0];
  const last = days.at(-1);
  return {
    generatedAt: now.toISOString(),
    machine: machines.join('; ') || 'unknown',
    date: !first ? 'unknown' : first === last ? first : `${first} – ${last}`,
    sections,
    skipped,
  };
}

// The first problem, with where it is: enough to find the field in the file.
function describe(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'invalid';
  return `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`;
}
