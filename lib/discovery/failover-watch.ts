/**
 * Datacenter failover: the local watch, then one watch per failover
 * datacenter in order. The list served is the first non-empty one, so traffic
 * leaves the local datacenter only while it has no passing instance and comes
 * back as soon as it has one again. The remote watches start the first time
 * the local list is empty, or earlier when a call fails over within the call
 * (lib/grpc/datacenter-failover.ts asks the registry for the same watch), and
 * then keep following, so a second local outage fails over without a cold wait.
 * Idle, a remote watch costs one blocking query per remote datacenter and
 * environment: a request every discoveryWaitSeconds (30 s by default), each
 * holding one connection to the agent, forwarded by the local servers over the
 * WAN; it is not started before the first outage for that reason.
 */
import type { ServiceInstance } from '../consul/service-instances';
import type { InstanceWatch } from './instance-watch';
import { sameInstances, type ServiceQuery } from './service-query';
import type { ServiceWatch } from './service-watch';

/** Several watches of one service, served in order of preference. */
export class FailoverWatch implements InstanceWatch {
  private served?: readonly ServiceInstance[];
  private remotesStarted = false;
  private readonly listeners = new Set<(instances: readonly ServiceInstance[]) => void>();

  /** `remotes` are created but not started; they start when the local list is first empty. */
  constructor(
    readonly query: ServiceQuery,
    private readonly local: ServiceWatch,
    private readonly remotes: readonly ServiceWatch[],
  ) {
    for (const w of [local, ...remotes]) w.subscribe(() => this.recompute());
  }

  current(): readonly ServiceInstance[] | undefined {
    this.recompute();
    return this.served;
  }

  ensureFresh(): boolean {
    let restarted = false;
    for (const w of this.active()) restarted = w.ensureFresh() || restarted;
    return restarted;
  }

  async waitForFirst(timeoutMs: number): Promise<readonly ServiceInstance[] | undefined> {
    const until = Date.now() + timeoutMs;
    const local = await this.local.waitForFirst(timeoutMs);
    if (local?.length) return this.current();
    this.startRemotes();
    // Remote datacenters in order, each within what is left of the wait.
    for (const w of this.remotes) {
      const left = until - Date.now();
      if (left <= 0) break;
      if ((await w.waitForFirst(left))?.length) break;
    }
    return this.current();
  }

  subscribe(fn: (instances: readonly ServiceInstance[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private active(): ServiceWatch[] {
    return this.remotesStarted ? [this.local, ...this.remotes] : [this.local];
  }

  private startRemotes(): void {
    if (this.remotesStarted) return;
    this.remotesStarted = true;
    for (const w of this.remotes) w.start();
  }

  private recompute(): void {
    const local = this.local.current();
    if (local !== undefined && local.length === 0) this.startRemotes();
    let next: readonly ServiceInstance[] | undefined = local?.length ? local : undefined;
    if (!next && this.remotesStarted) {
      for (const w of this.remotes) {
        const list = w.current();
        if (list?.length) {
          next = list.map((i) => ({ ...i, datacenter: w.query.datacenter }));
          break;
        }
      }
    }
    // Local is empty and a remote datacenter has not answered yet: not known, rather than
    // empty, so a caller waits (bounded) for the failover instead of failing at once.
    const remotePending = this.remotesStarted && this.remotes.some((w) => w.current() === undefined);
    if (!next && !(local?.length === 0 && remotePending)) next = local;
    if (next === this.served || (next && this.served && sameInstances(next, this.served))) return;
    this.served = next;
    if (next) for (const fn of this.listeners) fn(next);
  }
}
