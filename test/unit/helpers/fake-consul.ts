/**
 * An in-memory Consul behind the ConsulApi interface, for unit tests.
 *
 * The lib's Consul helpers (kv.ts, agent.ts, health.ts, lock.ts, catalog.ts)
 * call `api.call(operation, opts, (client, ctx) => client.kv.get(...))`; this
 * fake hands them a RawConsulClient backed by maps, so those helpers run as in
 * production and only the HTTP layer is replaced. Every call is recorded, and
 * a test can make an operation fail (`failOn`) or hold it (`hold`).
 */
import { EventEmitter } from 'node:events';
import type { CallOptions, ConsulApi, Indexed } from '../../../lib/consul/consul-api';
import { ConsulRequestError } from '../../../lib/consul/errors';
import type { RawConsulClient } from '../../../lib/consul/raw-client';
import type { ServiceEntry } from '../../../lib/consul/service-instances';
import { deferred, type Deferred } from './deferred';

/** One call as the lib made it: the operation name and the options the raw client got. */
export interface RecordedCall {
  operation: string;
  /** Timeout and signal the lib passed to the ConsulApi. */
  options: CallOptions;
  args: Record<string, unknown>;
}

/** A service on the fake agent, with the status of its single check. */
export interface FakeAgentService extends ServiceEntry {
  status: 'passing' | 'warning' | 'critical';
  output: string;
  /** The check as registered (ttl, deregister-after, notes), when it came through register. */
  check?: Record<string, unknown>;
}

interface FakeKvEntry {
  value: string;
  modifyIndex: number;
  session?: string;
}

interface Failure {
  operation: string | RegExp;
  error: () => unknown;
  times: number;
}

/** Throws like Consul's HTTP API does for status `status` (403 and 401 are ACL denials). */
export function consulError(operation: string, status: number | undefined, message = 'failed'): ConsulRequestError {
  return new ConsulRequestError(operation, message, status);
}

export class FakeConsul implements ConsulApi {
  readonly address = 'http://consul.test:8500';
  readonly failovers = 0;
  readonly requestErrors = 0;
  readonly requestCounts = new Map<string, number>();
  readonly calls: RecordedCall[] = [];
  readonly kv = new Map<string, FakeKvEntry>();
  readonly services = new Map<string, FakeAgentService>();
  readonly sessions = new Set<string>();
  /** Services on synthetic catalog nodes (reverse sync), by node then id. */
  readonly external = new Map<string, Map<string, { service: Record<string, unknown>; status: string }>>();
  /** The Raft index; every write moves it. */
  index = 100;
  /** What reads report in X-Consul-KnownLeader and X-Consul-LastContact. */
  knownLeader = true;
  lastContactMs = 0;
  destroyed = false;
  /** Called as each call starts, before any hold or failure applies. */
  onCall?: (call: RecordedCall) => void;
  private readonly failures: Failure[] = [];
  private readonly holds = new Map<string, Deferred<void>[]>();
  private nextSession = 1;

  /** Makes the next `times` calls of `operation` (a name or a pattern) throw `error`. */
  failOn(operation: string | RegExp, error: unknown | (() => unknown), times = Number.POSITIVE_INFINITY): void {
    this.failures.push({ operation, error: typeof error === 'function' ? (error as () => unknown) : () => error, times });
  }

  /** Stops making operations fail. */
  heal(): void {
    this.failures.length = 0;
  }

  /** Holds the next call of `operation` until the returned deferred is resolved (or rejected). */
  hold(operation: string): Deferred<void> {
    const gate = deferred();
    const list = this.holds.get(operation) ?? [];
    list.push(gate);
    this.holds.set(operation, list);
    return gate;
  }

  /** Operation names in call order, optionally only those matching `filter`. */
  operations(filter?: RegExp): string[] {
    return this.calls.map((c) => c.operation).filter((op) => !filter || filter.test(op));
  }

  /** The recorded calls of one operation. */
  callsOf(operation: string): RecordedCall[] {
    return this.calls.filter((c) => c.operation === operation);
  }

  /** Puts a service on the agent directly (seeding), as if registered earlier. */
  addService(svc: Partial<FakeAgentService> & { id: string; service: string }): FakeAgentService {
    const full: FakeAgentService = { address: '10.0.0.1', port: 50051, tags: [], meta: {}, status: 'passing', output: '', ...svc };
    this.services.set(full.id, full);
    this.index++;
    return full;
  }

  /** Writes a K/V value directly (seeding). */
  putKv(key: string, value: string): void {
    this.kv.set(key, { value, modifyIndex: ++this.index });
  }

  call<T>(operation: string, opts: CallOptions, run: (client: RawConsulClient, ctx: EventEmitter) => Promise<T>): Promise<T> {
    return this.exec(operation, opts, run);
  }

  async callIndexed(
    operation: string,
    opts: CallOptions,
    run: (client: RawConsulClient, ctx: EventEmitter) => Promise<unknown>,
  ): Promise<Indexed<unknown>> {
    const value = await this.exec(operation, opts, run);
    return { value, index: String(this.index), knownLeader: this.knownLeader, lastContactMs: this.lastContactMs };
  }

  request(operation: string): Promise<unknown> {
    return Promise.reject(new Error(`FakeConsul does not implement raw endpoint ${operation}`));
  }

  requestIndexed(operation: string): Promise<Indexed<unknown>> {
    return Promise.reject(new Error(`FakeConsul does not implement raw endpoint ${operation}`));
  }

  destroy(): void {
    this.destroyed = true;
  }

  private async exec<T>(
    operation: string,
    options: CallOptions,
    run: (client: RawConsulClient, ctx: EventEmitter) => Promise<T>,
  ): Promise<T> {
    this.requestCounts.set(operation, (this.requestCounts.get(operation) ?? 0) + 1);
    const record: RecordedCall = { operation, options, args: {} };
    this.calls.push(record);
    this.onCall?.(record);
    const gate = this.holds.get(operation)?.shift();
    if (gate) await gate.promise;
    const failure = this.failures.find(
      (f) => f.times > 0 && (typeof f.operation === 'string' ? f.operation === operation : f.operation.test(operation)),
    );
    if (failure) {
      failure.times--;
      throw failure.error();
    }
    return run(this.raw(operation, record), new EventEmitter());
  }

  private raw(operation: string, record: RecordedCall): RawConsulClient {
    const seen = <A extends object>(args: A): A => {
      const { ctx: _ctx, ...rest } = args as A & { ctx?: unknown };
      record.args = rest;
      return args;
    };
    const unknownService = (id: string) => consulError(operation, 404, `Unknown service ID "${id}"`);
    const agentView = (s: FakeAgentService) => ({
      ID: s.id,
      Service: s.service,
      Address: s.address,
      Port: s.port,
      Tags: s.tags,
      Meta: s.meta,
    });
    const notRaw = () => Promise.reject(new Error('FakeConsul has no raw endpoints'));
    return {
      _get: notRaw,
      _put: notRaw,
      _post: notRaw,
      _delete: notRaw,
      kv: {
        get: async (a) => {
          seen(a);
          const item = (key: string, e: FakeKvEntry) => ({
            Key: key,
            Value: e.value,
            ModifyIndex: e.modifyIndex,
            ...(e.session ? { Session: e.session } : {}),
          });
          if (a.recurse) {
            const items = [...this.kv].filter(([k]) => k.startsWith(a.key)).sort(([x], [y]) => x.localeCompare(y));
            return items.length ? items.map(([k, e]) => item(k, e)) : undefined;
          }
          const e = this.kv.get(a.key);
          return e ? item(a.key, e) : undefined;
        },
        set: async (a) => {
          seen(a);
          const current = this.kv.get(a.key);
          if (a.cas !== undefined && (a.cas === 0 ? current !== undefined : current?.modifyIndex !== a.cas)) return false;
          if (a.acquire !== undefined) {
            if (!this.sessions.has(a.acquire)) throw consulError(operation, 500, 'invalid session');
            if (current?.session && current.session !== a.acquire) return false;
          }
          if (a.release !== undefined && current?.session !== a.release) return false;
          const session = a.acquire ?? (a.release !== undefined ? undefined : current?.session);
          this.kv.set(a.key, { value: a.value, modifyIndex: ++this.index, ...(session ? { session } : {}) });
          return true;
        },
        del: async (a) => {
          seen(a);
          for (const k of [...this.kv.keys()]) if (a.recurse ? k.startsWith(a.key) : k === a.key) this.kv.delete(k);
          this.index++;
          return true;
        },
      },
      health: {
        service: async (a) => {
          seen(a);
          return [...this.services.values()]
            .filter((s) => s.service === a.service && (!a.tag || s.tags.includes(a.tag)) && (!a.passing || s.status === 'passing'))
            .map((s) => ({
              Node: { Node: 'node-1', Address: '10.9.9.9' },
              Service: agentView(s),
              Checks: [
                { CheckID: 'serfHealth', Status: 'passing', Output: 'Agent alive and reachable' },
                { CheckID: `service:${s.id}`, Status: s.status, Output: s.output },
              ],
            }));
        },
        node: async (a) => {
          seen(a);
          return [...(this.external.get(a.node)?.entries() ?? [])].map(([id, e]) => ({
            CheckID: `external:${id}`,
            ServiceID: id,
            ServiceName: String(e.service.service ?? ''),
            Status: e.status,
          }));
        },
      },
      session: {
        create: async (a) => {
          seen(a);
          const id = `session-${this.nextSession++}`;
          this.sessions.add(id);
          return { ID: id };
        },
        destroy: async (a) => {
          seen(a);
          this.sessions.delete(a.id);
          for (const [k, e] of this.kv) if (e.session === a.id) this.kv.delete(k); // behavior: delete
          return true;
        },
        renew: async (a) => {
          seen(a);
          return [{ ID: a.id }];
        },
      },
      catalog: {
        register: async (a) => {
          seen(a);
          const node = String(a.node);
          const service = a.service as Record<string, unknown>;
          const check = a.check as { status?: string } | undefined;
          const onNode = this.external.get(node) ?? new Map();
          onNode.set(String(service.id), { service, status: check?.status ?? 'critical' });
          this.external.set(node, onNode);
          this.index++;
          return true;
        },
        deregister: async (a) => {
          seen(a);
          this.external.get(a.node)?.delete(a.serviceid ?? '');
          this.index++;
          return true;
        },
        node: {
          services: async (a) => {
            seen(a);
            const onNode = this.external.get(a.node);
            if (!onNode) return undefined;
            return {
              Services: Object.fromEntries(
                [...onNode].map(([id, e]) => [
                  id,
                  {
                    ID: id,
                    Service: e.service.service,
                    Address: e.service.address,
                    Port: e.service.port,
                    Tags: e.service.tags,
                    Meta: e.service.meta,
                  },
                ]),
              ),
            };
          },
        },
      },
      agent: {
        self: async () => ({}),
        service: {
          list: async (a) => {
            seen(a);
            const match = filterMatcher(a.filter);
            return Object.fromEntries([...this.services.values()].filter(match).map((s) => [s.id, agentView(s)]));
          },
          register: async (a) => {
            seen(a);
            const check = (a.check ?? {}) as Record<string, unknown>;
            const id = String(a.id);
            this.services.set(id, {
              id,
              service: String(a.name),
              address: typeof a.address === 'string' ? a.address : '',
              port: typeof a.port === 'number' ? a.port : 0,
              tags: (a.tags as string[] | undefined) ?? [],
              meta: (a.meta as Record<string, string> | undefined) ?? {},
              status: check.status === 'critical' ? 'critical' : check.status === 'warning' ? 'warning' : 'passing',
              output: typeof check.notes === 'string' ? check.notes : '',
              check,
            });
            this.index++;
            return undefined;
          },
          deregister: async (a) => {
            seen(a);
            if (!this.services.delete(a.id)) throw unknownService(a.id);
            this.index++;
            return undefined;
          },
        },
        check: {
          pass: async (a) => {
            seen(a);
            return this.setCheck(operation, a.id, 'passing', a.note ?? '');
          },
          fail: async (a) => {
            seen(a);
            return this.setCheck(operation, a.id, 'critical', a.note ?? '');
          },
        },
      },
      destroy: () => undefined,
    };
  }

  private setCheck(operation: string, checkId: string, status: 'passing' | 'critical', note: string): undefined {
    const svc = this.services.get(checkId.replace(/^service:/, ''));
    if (!svc || !checkId.startsWith('service:')) throw consulError(operation, 404, `Unknown check ID "${checkId}"`);
    svc.status = status;
    svc.output = note;
    this.index++;
    return undefined;
  }
}

/** The two filter forms the lib sends: `ID == "x"` and `Meta["k"] == "v"`. */
function filterMatcher(filter: string | undefined): (s: FakeAgentService) => boolean {
  if (!filter) return () => true;
  const byId = /^ID == "([^"]*)"$/.exec(filter);
  if (byId) return (s) => s.id === byId[1];
  const byMeta = /^Meta\["([^"]+)"\] == "([^"]*)"$/.exec(filter);
  if (byMeta) return (s) => s.meta[byMeta[1] ?? ''] === byMeta[2];
  throw new Error(`FakeConsul cannot evaluate filter ${filter}`);
}
