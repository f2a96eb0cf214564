import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Log } from '../../../lib/log/logger';
import { runtimeSlot } from '../../../lib/runtime/runtime-slot';

/** A factory that counts builds and records which logger and which closes it saw. */
function factory(failFirst = 0) {
  const built: { n: number; log: Log; closed: number }[] = [];
  let failures = failFirst;
  const create = (log: Log) => {
    if (failures-- > 0) throw new Error('bad environment');
    const rt = { n: built.length + 1, log, closed: 0, close: () => void rt.closed++ };
    built.push(rt);
    return rt;
  };
  return { create, built };
}

describe('runtimeSlot', () => {
  it('builds the runtime once, on first use, with the slot logger', () => {
    const f = factory();
    const slot = runtimeSlot(f.create);
    assert.equal(slot.peek(), undefined);
    assert.equal(f.built.length, 0, 'nothing is built before the first invocation');
    const rt = slot.get();
    assert.equal(slot.get(), rt);
    assert.equal(slot.peek(), rt);
    assert.equal(f.built.length, 1);
    assert.equal(rt.log, slot.logger);
  });

  it('closes the runtime on reset and builds a fresh one on the next get, keeping the logger', () => {
    const f = factory();
    const slot = runtimeSlot(f.create);
    const logger = slot.logger;
    const first = slot.get();
    slot.reset();
    assert.equal(first.closed, 1);
    assert.equal(slot.peek(), undefined);
    const second = slot.get();
    assert.notEqual(second, first);
    assert.equal(second.n, 2);
    assert.equal(slot.logger, logger);
    assert.equal(second.log, logger);
  });

  it('does nothing on reset when no runtime was built', () => {
    const f = factory();
    const slot = runtimeSlot(f.create);
    slot.reset();
    assert.equal(f.built.length, 0);
  });

  it('throws what the factory throws and tries again on the next get', () => {
    const f = factory(1);
    const slot = runtimeSlot(f.create);
    assert.throws(() => slot.get(), /bad environment/);
    assert.equal(slot.peek(), undefined);
    const rt = slot.get();
    assert.equal(rt.n, 1);
    assert.equal(slot.get(), rt);
  });

  it('gives every slot its own runtime', () => {
    const a = runtimeSlot(factory().create);
    const b = runtimeSlot(factory().create);
    assert.notEqual(a.get(), b.get());
  });
});
