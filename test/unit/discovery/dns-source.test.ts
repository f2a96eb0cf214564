// The DNS source over a fake resolver (the only fake: names → answers or error codes) and a
// clock the test moves: cold start, the emulated blocking wait that follows the TTL, invalidate,
// NXDOMAIN as "none", typed errors, and abort.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dnsHealthSource, type DnsResolver, type DnsSourceOptions } from '../../../lib/discovery/dns-source';
import { DnsLookupError } from '../../../lib/discovery/srv-errors';
import type { AddressRecord, SrvRecord } from '../../../lib/discovery/srv-records';

type Answer<T> = T[] | string | (() => Promise<T[]>);

class FakeResolver implements DnsResolver {
  srv = new Map<string, Answer<SrvRecord>>();
  a = new Map<string, Answer<AddressRecord>>();
  aaaa = new Map<string, Answer<AddressRecord>>();
  calls: string[] = [];
  resolveSrv(name: string) {
    return this.answer('SRV', name, this.srv.get(name));
  }
  resolve4(name: string) {
    return this.answer('A', name, this.a.get(name));
  }
  resolve6(name: string) {
    return this.answer('AAAA', name, this.aaaa.get(name));
  }
  get srvCalls() {
    return this.calls.filter((c) => c.startsWith('SRV')).length;
  }
  private async answer<T>(type: string, name: string, a: Answer<T> | undefined): Promise<T[]> {
    this.calls.push(`${type} ${name}`);
    if (a === undefined) throw Object.assign(new Error(`query ${name} ENODATA`), { code: 'ENODATA' });
    if (typeof a === 'string') throw Object.assign(new Error(`query ${name} ${a}`), { code: a });
    if (typeof a === 'function') return a();
    return a;
  }
}

/** A clock the test moves; sleeps end when it passes their time (or their signal aborts). */
function fakeClock() {
  let t = 1_000_000;
  const timers = new Set<{ at: number; resolve: () => void }>();
  return {
    now: () => t,
    sleep(ms: number, signal: AbortSignal): Promise<void> {
      return new Promise((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const timer = { at: t + ms, resolve };
        timers.add(timer);
        signal.addEventListener('abort', () => (timers.delete(timer), reject(signal.reason)), { once: true });
      });
    },
    async advance(ms: number) {
      const until = t + ms;
      for (;;) {
        await settle();
        const next = [...timers].filter((x) => x.at <= until).sort((x, y) => x.at - y.at)[0];
        if (!next) break;
        t = next.at;
        timers.delete(next);
        next.resolve();
      }
      t = until;
      await settle();
    },
  };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

const srvOf = (...targets: [string, number][]): SrvRecord[] => targets.map(([name, port]) => ({ name, port, priority: 1, weight: 1 }));

function setup(extra: Partial<DnsSourceOptions> = {}) {
  const resolver = new FakeResolver();
  const clock = fakeClock();
  resolver.srv.set('greeter.service.consul', srvOf(['n1.node.dc1.consul', 7001], ['n2.node.dc1.consul', 7002]));
  resolver.a.set('n1.node.dc1.consul', [{ address: '10.0.0.1', ttl: 5 }]);
  resolver.a.set('n2.node.dc1.consul', [{ address: '10.0.0.2', ttl: 5 }]);
  const source = dnsHealthSource({
    servers: ['127.0.0.1:8600'],
    resolver,
    now: clock.now,
    sleep: clock.sleep,
    random: () => 0.5,
    jitterMs: 1_000,
    ...extra,
  });
  return { resolver, clock, source };
}

const never = new AbortController().signal;
const q = { service: 'greeter' };

describe('dnsHealthSource', () => {
  it('answers a cold start at once with the passing instances and a first index', async () => {
    const { source } = setup();
    assert.equal(source.name, 'dns');
    const res = await source.passingInstances(q, undefined, 30, never);
    assert.equal(res.index, '1');
    assert.deepEqual(
      res.value.map((i) => [i.id, i.node]),
      [
        ['10.0.0.1:7001', 'n1'],
        ['10.0.0.2:7002', 'n2'],
      ],
    );
  });

  it('falls back to AAAA when a target has no A record', async () => {
    const { source, resolver } = setup();
    resolver.a.delete('n2.node.dc1.consul');
    resolver.aaaa.set('n2.node.dc1.consul', [{ address: 'fd00::2', ttl: 5 }]);
    const res = await source.passingInstances(q, undefined, 30, never);
    assert.deepEqual(
      res.value.map((i) => i.id),
      ['10.0.0.1:7001', '[fd00::2]:7002'],
    );
  });

  it('reads NXDOMAIN and NODATA as no passing instance', async () => {
    const { source, resolver } = setup();
    resolver.srv.set('greeter.service.consul', 'ENOTFOUND');
    assert.deepEqual((await source.passingInstances(q, undefined, 30, never)).value, []);
    resolver.srv.delete('greeter.service.consul');
    assert.deepEqual((await source.passingInstances(q, undefined, 30, never)).value, []);
  });

  it('with the current index, looks again after TTL + random × jitterMs and answers when the list changed', async () => {
    const { source, resolver, clock } = setup();
    const first = await source.passingInstances(q, undefined, 30, never);
    let done: { index: string; value: unknown[] } | undefined;
    const result = () => done;
    void source.passingInstances(q, first.index, 30, never).then((r) => (done = r));
    await clock.advance(5_499);
    assert.equal(resolver.srvCalls, 1, 'no lookup before 5 s + 0.5 × 1 s');
    await clock.advance(1);
    assert.equal(resolver.srvCalls, 2);
    assert.equal(result(), undefined, 'an unchanged list keeps waiting');
    resolver.srv.set('greeter.service.consul', srvOf(['n1.node.dc1.consul', 7001]));
    await clock.advance(5_500);
    assert.equal(resolver.srvCalls, 3);
    assert.equal(done?.index, '2');
    assert.equal(done?.value.length, 1);
  });

  it('returns the same index when waitSeconds passes without a change', async () => {
    const { source, resolver, clock } = setup();
    const first = await source.passingInstances(q, undefined, 30, never);
    let done: { index: string } | undefined;
    const result = () => done;
    void source.passingInstances(q, first.index, 8, never).then((r) => (done = r));
    await clock.advance(7_999);
    assert.equal(result(), undefined);
    await clock.advance(1);
    assert.equal(done?.index, '1');
    assert.equal(resolver.srvCalls, 2, 'one refresh at 5.5 s, none at the deadline');
  });

  it("refreshes on the TTL of the service name's own A answer (the SRV answer's), not the targets'", async () => {
    const { source, resolver, clock } = setup();
    resolver.a.set('greeter.service.consul', [
      { address: '10.0.0.1', ttl: 2 },
      { address: '10.0.0.2', ttl: 3 },
    ]);
    const first = await source.passingInstances(q, undefined, 30, never);
    assert.ok(resolver.calls.includes('A greeter.service.consul'));
    void source.passingInstances(q, first.index, 30, never);
    await clock.advance(2_499);
    assert.equal(resolver.srvCalls, 1);
    await clock.advance(1);
    assert.equal(resolver.srvCalls, 2, 'at 2 s + 0.5 × 1 s, though the targets say 5 s');
  });

  it("takes the targets' TTL when the name's A lookup fails: it is only a hint", async () => {
    const { source, resolver, clock } = setup();
    resolver.a.set('greeter.service.consul', 'ESERVFAIL');
    const first = await source.passingInstances(q, undefined, 30, never);
    assert.equal(first.value.length, 2);
    void source.passingInstances(q, first.index, 30, never);
    await clock.advance(5_499);
    assert.equal(resolver.srvCalls, 1);
    await clock.advance(1);
    assert.equal(resolver.srvCalls, 2);
  });

  it('answers at once for an index that is not the current one', async () => {
    const { source, resolver } = setup();
    await source.passingInstances(q, undefined, 30, never);
    const res = await source.passingInstances(q, '99', 30, never);
    assert.equal(res.index, '1');
    assert.equal(resolver.srvCalls, 2);
  });

  it('invalidate wakes the pending wait and looks again at once', async () => {
    const { source, resolver, clock } = setup();
    const first = await source.passingInstances(q, undefined, 30, never);
    let done: { index: string } | undefined;
    void source.passingInstances(q, first.index, 30, never).then((r) => (done = r));
    await clock.advance(1_000);
    resolver.srv.set('greeter.service.consul', srvOf(['n2.node.dc1.consul', 7002]));
    source.invalidate(q);
    await clock.advance(0);
    assert.equal(resolver.srvCalls, 2);
    assert.equal(done?.index, '2');
  });

  it('spaces a burst of invalidations out to one lookup per invalidateSpacingMs', async () => {
    const { source, resolver, clock } = setup({ invalidateSpacingMs: 250 });
    const first = await source.passingInstances(q, undefined, 30, never);
    void source.passingInstances(q, first.index, 30, never);
    for (let i = 0; i < 10; i++) source.invalidate(q);
    await clock.advance(249);
    assert.equal(resolver.srvCalls, 1);
    await clock.advance(1);
    assert.equal(resolver.srvCalls, 2);
    source.invalidate({ service: 'other' }); // nothing known of it: a no-op
    source.invalidate({ service: 'bad name' }); // cannot be spelled: a no-op
  });

  it('waits emptyRefreshMs before looking again at an empty answer', async () => {
    const { source, resolver, clock } = setup({ emptyRefreshMs: 2_000, jitterMs: 0 });
    resolver.srv.set('greeter.service.consul', 'ENOTFOUND');
    const first = await source.passingInstances(q, undefined, 30, never);
    void source.passingInstances(q, first.index, 30, never);
    await clock.advance(1_999);
    assert.equal(resolver.srvCalls, 1);
    await clock.advance(1);
    assert.equal(resolver.srvCalls, 2);
  });

  it('throws typed errors: unreachable and SERVFAIL say "no answer", REFUSED does not', async () => {
    const { source, resolver } = setup();
    for (const [code, kind, noAnswer] of [
      ['ETIMEOUT', 'unreachable', true],
      ['ECONNREFUSED', 'unreachable', true],
      ['ESERVFAIL', 'server_failure', true],
      ['EREFUSED', 'refused', false],
    ] as const) {
      resolver.srv.set('greeter.service.consul', code);
      await assert.rejects(
        source.passingInstances(q, undefined, 30, never),
        (e: unknown) => e instanceof DnsLookupError && e.kind === kind && e.noAnswer === noAnswer,
      );
    }
    resolver.srv.set('greeter.service.consul', srvOf(['n1.node.dc1.consul', 7001]));
    resolver.a.set('n1.node.dc1.consul', 'ETIMEOUT');
    await assert.rejects(
      source.passingInstances(q, undefined, 30, never),
      (e: unknown) => e instanceof DnsLookupError && e.kind === 'unreachable',
    );
  });

  it('rejects a query it cannot spell with invalid_name', async () => {
    const { source } = setup();
    await assert.rejects(
      source.passingInstances({ service: 'greeter', connect: true, tag: 'v1' }, undefined, 30, never),
      (e: unknown) => e instanceof DnsLookupError && e.kind === 'invalid_name',
    );
  });

  it('bounds a lookup that never ends by its own deadline, as unreachable', async () => {
    const resolver = new FakeResolver();
    resolver.srv.set('greeter.service.consul', () => new Promise(() => undefined));
    const source = dnsHealthSource({ servers: ['127.0.0.1:8600'], resolver, timeoutMs: 20, tries: 1 });
    // The deadline's timer does not hold the process open (a real lookup's socket does); this one stands in.
    const keepAlive = setTimeout(() => undefined, 5_000);
    try {
      const started = Date.now();
      await assert.rejects(
        source.passingInstances(q, undefined, 30, never),
        (e: unknown) => e instanceof DnsLookupError && e.kind === 'unreachable' && e.noAnswer,
      );
      assert.ok(Date.now() - started < 2_000);
    } finally {
      clearTimeout(keepAlive);
    }
  });

  it('rejects promptly when the signal aborts, during a lookup and during the wait', async () => {
    const { source, resolver } = setup();
    const first = await source.passingInstances(q, undefined, 30, never);
    const waiting = new AbortController();
    const wait = source.passingInstances(q, first.index, 30, waiting.signal);
    waiting.abort(new Error('stop'));
    await assert.rejects(wait, /stop/);
    resolver.srv.set('greeter.service.consul', () => new Promise(() => undefined));
    const looking = new AbortController();
    const lookup = source.passingInstances(q, undefined, 30, looking.signal);
    looking.abort(new Error('gone'));
    await assert.rejects(lookup, /gone/);
  });

  it('asks the RFC 2782 name when told to', async () => {
    const { source, resolver } = setup({ nameStyle: 'rfc2782' });
    resolver.srv.set('_greeter._v1.service.dc2.consul', srvOf(['n1.node.dc2.consul', 7001]));
    resolver.a.set('n1.node.dc2.consul', [{ address: '10.1.0.1', ttl: 5 }]);
    const res = await source.passingInstances({ service: 'greeter', tag: 'v1', datacenter: 'dc2' }, undefined, 30, never);
    assert.deepEqual(
      res.value.map((i) => [i.id, i.tags]),
      [['10.1.0.1:7001', ['v1']]],
    );
  });
});
