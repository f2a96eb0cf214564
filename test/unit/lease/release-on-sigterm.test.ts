// What an environment does on SIGTERM: its shutdown hooks in order (one that throws does not stop the
// others), then the lease release, then exit. The listener is called as Node would call it; exit is stubbed.
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { releaseOnSigterm } from '../../../lib/lease/release-on-sigterm';
import { recordingLog } from '../helpers/recording-log';

/** The SIGTERM listener `install` adds, and a function that removes whatever it added. */
function installed(install: () => () => void): { listener: () => void; stop: () => void } {
  const before = new Set(process.listeners('SIGTERM'));
  const stop = install();
  const added = process.listeners('SIGTERM').filter((l) => !before.has(l));
  assert.equal(added.length, 1, 'one SIGTERM listener');
  return { listener: added[0] as () => void, stop };
}

describe('releaseOnSigterm', () => {
  it('runs every hook, in order and before the release, even after one throws; then exits 0', async () => {
    const order: string[] = [];
    const exited = new Promise<unknown>((resolve) => mock.method(process, 'exit', (code?: number) => resolve(code)));
    const log = recordingLog();
    const lease = { release: async () => void order.push('release') };
    const hooks = [
      () => void order.push('first'),
      () => {
        order.push('broken');
        throw new Error('hook failed');
      },
      () => void order.push('metrics'),
    ];
    const { listener, stop } = installed(() => releaseOnSigterm(lease, log, hooks));
    try {
      listener();
      assert.equal(await exited, 0);
      assert.deepEqual(order, ['first', 'broken', 'metrics', 'release']);
      assert.deepEqual(log.messages('warn'), ['shutdown hook failed']);
    } finally {
      stop();
      mock.restoreAll();
    }
  });

  it('stops listening once stopped', () => {
    const { listener, stop } = installed(() => releaseOnSigterm({ release: async () => undefined }, recordingLog()));
    stop();
    assert.equal(process.listeners('SIGTERM').includes(listener), false);
  });
});
