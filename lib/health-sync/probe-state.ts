/**
 * Anti-flap for probed instances (pure). Unlike consul-esm's thresholds, which
 * count failures that need not be consecutive, a status changes only after N
 * consecutive failures (to critical) or M consecutive successes (to passing).
 */

/** What survives between runs for one instance (stored in Consul K/V). */
export interface ProbeState {
  status: 'passing' | 'critical';
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** Epoch ms of the last probe: a run that cannot probe everything starts with the longest unprobed. */
  probedAt?: number;
}

/** Thresholds from config. */
export interface ProbeThresholds {
  failuresBeforeCritical: number;
  successesBeforePassing: number;
}

/** The state of an instance never probed: critical until it proves itself. */
export const INITIAL_PROBE_STATE: ProbeState = { status: 'critical', consecutiveFailures: 0, consecutiveSuccesses: 0 };

/** The next state after one probe result. */
export function nextProbeState(prev: ProbeState, ok: boolean, t: ProbeThresholds): ProbeState {
  const consecutiveFailures = ok ? 0 : prev.consecutiveFailures + 1;
  const consecutiveSuccesses = ok ? prev.consecutiveSuccesses + 1 : 0;
  let status = prev.status;
  if (status === 'passing' && consecutiveFailures >= t.failuresBeforeCritical) status = 'critical';
  if (status === 'critical' && consecutiveSuccesses >= t.successesBeforePassing) status = 'passing';
  return { status, consecutiveFailures, consecutiveSuccesses };
}

/** Parses a stored state; anything unreadable starts over. */
export function parseProbeState(text: string | undefined): ProbeState {
  if (!text) return INITIAL_PROBE_STATE;
  try {
    const v = JSON.parse(text) as Partial<ProbeState>;
    if (
      (v.status === 'passing' || v.status === 'critical') &&
      Number.isInteger(v.consecutiveFailures) &&
      Number.isInteger(v.consecutiveSuccesses)
    ) {
      return {
        status: v.status,
        consecutiveFailures: v.consecutiveFailures ?? 0,
        consecutiveSuccesses: v.consecutiveSuccesses ?? 0,
        ...(typeof v.probedAt === 'number' ? { probedAt: v.probedAt } : {}),
      };
    }
  } catch {
    // fall through
  }
  return INITIAL_PROBE_STATE;
}
