/**
 * Where benchmark results go and their shape. Every run writes to bench/out/ (ignored by git), so
 * a local run never dirties the checkout; `--publish` copies a run's sections into the tracked
 * bench/results/ and regenerates the published tables (bench/publish.ts). bench/report.ts merges
 * the sections of either folder into latest.json, chart.svg and summary.md.
 * Every figure is in milliseconds unless its name says otherwise.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

/** Where every run writes (ignored by git). */
export const OUT_DIR = join(__dirname, 'out');
/** The published results, tracked: only `--publish` writes here. */
export const PUBLISHED_DIR = join(__dirname, 'results');
/** The published tables the docs link to, generated from PUBLISHED_DIR. */
export const DOCS_RESULTS_DIR = join(__dirname, '..', 'docs', 'results');

/** The sections a benchmark may write, one file each. */
export type Section = 'warm' | 'cold-start' | 'bundle' | 'fleet' | 'metrics' | 'mtls' | 'tracing' | 'rpc';

/** Percentiles of one set of samples. */
export interface Percentiles {
  n: number;
  p50: number;
  p90?: number;
  p99: number;
  mean: number;
}

/** Warm path (bench/greet.bench.ts). */
export interface WarmResult {
  /** One entry per path: raw grpc-js, our greet handler, the seed article's lookup + new client per call. */
  latency: Array<{ path: 'raw' | 'greet' | 'seed' | string } & Percentiles>;
  ratios: Record<string, number>;
  /** 16 in flight: calls per second of one environment against raw grpc-js. */
  /** rawTrace*: raw grpc-js carrying the trace metadata greet sends, the floor of a propagating caller. */
  concurrency?: {
    inFlight: number;
    greetPerSec: number;
    rawPerSec: number;
    ratio: number;
    rawTracePerSec?: number;
    rawTraceRatio?: number;
  };
  [extra: string]: unknown;
}

/** Cold start in the Lambda Runtime Interface Emulator (bench/cold-start/). */
export interface ColdStartResult {
  /** Medians: the emulator's init duration and the first invocation, ours and the minimal floor Lambda. */
  greet: { initMs: number; firstInvokeMs: number; totalMs: number };
  floor: { initMs: number; firstInvokeMs: number; totalMs: number };
  ratio: number;
  /** Median time of each cold-start step, in the order they happen. */
  breakdown: Array<{ step: string; ms: number }>;
  [extra: string]: unknown;
}

/** Bundles (bench/bundle.bench.ts): size, require time and memory per function. */
export interface BundleResult {
  functions: Array<{ name: string; bytes: number; requireMs: number; rssMb?: number }>;
  grpcJsAlone: { bytes?: number; requireMs: number; rssMb?: number };
  [extra: string]: unknown;
}

/** Fleet-scale model (bench/fleet/*): Consul's load against the number of warm environments. */
export interface FleetResult {
  rows: Array<{
    environments: number;
    processes: number;
    consulRequestsPerSec: number;
    consulCpuPercent: number;
    consulRssMb: number;
    propagationP50Ms: number;
    propagationMaxMs: number;
    connectionsPerIp: number;
    http429: number;
    /** The run this row was measured in, when it differs from the section's. */
    run?: RunInfo;
  }>;
  /** The formula for users, in words and numbers. */
  formula: string;
  [extra: string]: unknown;
}

/** What every section carries besides its figures: where and when it ran (no host name). */
export interface RunInfo {
  node: string;
  cpus: string;
  cores: number;
  memoryGiB: number;
  finishedAt: string;
}

/** This machine and now. */
export function runInfo(): RunInfo {
  const c = cpus();
  return {
    node: process.version,
    cpus: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    finishedAt: new Date().toISOString(),
  };
}

/** The sections this process wrote, for `--publish` at its end (bench/measure.ts runMain). */
export const written = new Set<Section>();

/** Writes one section's figures to `dir`/<section>.json (bench/out/ unless told); returns the file. */
export function writeResult(section: Section, data: object, dir = OUT_DIR, measuredOn?: { node: string }): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${section}.json`);
  // measuredOn: the Node that ran the measured code when it is not this one (the functions' runtime Node).
  writeFileSync(file, `${JSON.stringify({ section, run: { ...runInfo(), ...measuredOn }, ...data }, null, 2)}\n`);
  written.add(section);
  return file;
}
