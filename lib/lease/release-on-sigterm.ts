/**
 * Best-effort lease release when Lambda shuts an environment down. Lambda sends
 * SIGTERM to the runtime (when an extension is registered) and allows ~300 ms,
 * so the release is bounded below that; then the process exits as it would have.
 */
import { isMainThread } from 'node:worker_threads';
import { errorSummary, logger } from '../log/logger';
import type { ExecutionLease } from './execution-lease';

const RELEASE_BUDGET_MS = 250;
const leases = new Set<ExecutionLease>();

function onSigterm(): void {
  void Promise.allSettled([...leases].map((l) => l.release(RELEASE_BUDGET_MS)))
    .then((results) => {
      for (const r of results) if (r.status === 'rejected') logger.warn('lease release on SIGTERM failed', { error: errorSummary(r.reason) });
    })
    .finally(() => process.exit(0));
}

/** Releases `lease` on SIGTERM; returns a function that stops doing so. */
export function releaseOnSigterm(lease: ExecutionLease): () => void {
  // Signals reach only the main thread (serverless-offline runs handlers in workers).
  if (!isMainThread) return () => undefined;
  if (leases.size === 0) process.once('SIGTERM', onSigterm);
  leases.add(lease);
  return () => {
    leases.delete(lease);
    if (leases.size === 0) process.off('SIGTERM', onSigterm);
  };
}
