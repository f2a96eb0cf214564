/**
 * Counts Cloud Map API calls per operation, and the retries the SDK made
 * inside them, so a sync can prove it made no writes when nothing changed and
 * show how hard it was throttled.
 */
import { attemptsOf, toCloudMapError } from './errors';

/** Per-operation call counts of one read or apply. */
export class CallCounter {
  /** Logical calls per operation name; SDK retries are not counted here. */
  readonly calls: Record<string, number> = {};
  /** Extra attempts the SDK made (throttling, 5xx, timeouts). */
  retries = 0;

  /** Runs one SDK call for `operation`, counting it; failures become CloudMapRequestError. */
  async track<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    this.calls[operation] = (this.calls[operation] ?? 0) + 1;
    try {
      const out = await fn();
      this.retries += attemptsOf(out) - 1;
      return out;
    } catch (err) {
      this.retries += attemptsOf(err) - 1;
      throw toCloudMapError(operation, err);
    }
  }
}
