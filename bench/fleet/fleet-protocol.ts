/** The messages between fleet.bench.ts and its fleet-worker.ts processes (over the fork IPC channel). */

/** Parent → worker. */
export type ToWorker =
  /** Expect an instance at `endpoint` (`address:port`) to be present (or absent) in every environment's list; answer with when each saw it. */
  | { type: 'expect'; change: number; endpoint: string; present: boolean }
  /** Answer for change `change` now, with NaN for environments that have not met it yet. */
  | { type: 'collect'; change: number }
  /** Release the leases, close every runtime and exit. */
  | { type: 'stop' };

/** Memory of a worker process, MB: before its first environment and once all of them served their first invocation. */
export interface WorkerMemory {
  baseRssMb: number;
  rssMb: number;
  baseHeapMb: number;
  heapMb: number;
}

/** Worker → parent. */
export type FromWorker =
  /** Every environment has served its first invocation. */
  | { type: 'ready'; environments: number; coldStartFailures: number; coldStartMs: number[]; memory: WorkerMemory; cloudMapCalls: number }
  /** Each environment's wall-clock time (Date.now) when its list first matched change `change` (NaN: not yet). */
  | { type: 'seen'; change: number; at: number[] }
  /** The worker could not build its environments (e.g. a discovery source that is not available). */
  | { type: 'error'; message: string }
  /** Counters over the worker's life, sent before it exits. */
  | {
      type: 'stats';
      invocations: number;
      invocationFailures: number;
      throttledPolls: number;
      leaseFailures: number;
      leaseReRegistrations: number;
      consulRequests: Record<string, number>;
      cloudMapCalls: number;
    };

/** What the parent passes each worker in its environment. */
export interface WorkerSettings {
  environments: number;
  /** Cold starts are spread over this long, as a fleet scales out over some seconds. */
  rampMs: number;
  /** Each environment is invoked about this often (uniformly in [0.5, 1.5] of it). */
  invokeEveryMs: number;
}
