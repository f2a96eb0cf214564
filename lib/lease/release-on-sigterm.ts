/**
 * Best-effort lease release when Lambda shuts an environment down. Lambda sends
 * SIGTERM to the runtime (when an extension is registered) and allows ~300 ms,
 * so the release is bounded below that; then the process exits as it would have.
 * Each runtime installs its own listener and removes it when it closes; a
 * Lambda process holds one runtime, so one listener. Node delivers signals to the
 * main thread only (serverless-offline runs handlers in worker threads, whose
 * `process` never emits them), so a worker's listener never fires, and nothing here
 * needs `node:worker_threads` (~0.3 ms of a cold start, once grpc-js is loaded).
 */
import { errorSummary, type Log } from '../log/logger';
import type { EnvironmentLease } from './environment-lease';

const RELEASE_BUDGET_MS = 250;

/**
 * Releases `lease` on SIGTERM, then exits; returns a function that stops doing so. The `hooks` run first,
 * synchronously and in order (e.g. the last metrics line), so they are done before the release can use up
 * the budget; one that throws is logged and the others still run.
 */
export function releaseOnSigterm(lease: Pick<EnvironmentLease, 'release'>, log: Log, hooks: ReadonlyArray<() => void> = []): () => void {
  const onSigterm = () => {
    for (const hook of hooks)
      try {
        hook();
      } catch (err) {
        log.warn('shutdown hook failed', { error: errorSummary(err) });
      }
    void lease
      .release(RELEASE_BUDGET_MS)
      .catch((err: unknown) => log.warn('lease release on SIGTERM failed', { error: errorSummary(err) }))
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', onSigterm);
  return () => process.off('SIGTERM', onSigterm);
}
