import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { eventually, pollUntil, pollWhileRunning } from '../../../scripts/support/poll-until';

describe('pollUntil', () => {
  it('returns the first value the probe gives, retrying throws and undefined as "not yet"', async () => {
    let calls = 0;
    const value = await pollUntil(
      () => {
        calls++;
        if (calls === 1) throw new Error('not up');
        return calls >= 3 ? 'ready' : undefined;
      },
      'ready',
      { timeoutMs: 5_000, intervalMs: 1 },
    );
    assert.equal(value, 'ready');
    assert.equal(calls, 3);
  });

  it('names what it waited for and the last error when time runs out', async () => {
    await assert.rejects(
      pollUntil(
        () => {
          throw new Error('connection refused');
        },
        'the server',
        { timeoutMs: 30, intervalMs: 5 },
      ),
      /timed out after 30 ms waiting for the server \(last error: connection refused\)/,
    );
  });

  it('ends with the abort reason of its signal', async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('stopped by the caller')), 20);
    await assert.rejects(
      pollUntil(() => undefined, 'never', { timeoutMs: 10_000, intervalMs: 5, signal: stop.signal }),
      /stopped by the caller/,
    );
  });
});

describe('eventually', () => {
  it('resolves once the check holds', async () => {
    let n = 0;
    await eventually(() => ++n >= 2, 5_000, 'two calls');
    assert.ok(n >= 2);
  });

  it('names what it waited for when the check never holds', async () => {
    await assert.rejects(
      eventually(() => false, 30, 'never'),
      /timed out after 30 ms waiting for never/,
    );
  });
});

describe('pollWhileRunning', () => {
  it('fails at once, with the output so far, when the process exits before it is ready', async () => {
    const child = spawn(process.execPath, ['-e', 'process.exit(3)'], { stdio: 'ignore' });
    const started = Date.now();
    await assert.rejects(
      pollWhileRunning({ name: 'short-lived', child, output: ['last words'] }, () => undefined, 'it to serve', { timeoutMs: 60_000 }),
      /short-lived exited \(3\) before it to serve:\nlast words/,
    );
    assert.ok(Date.now() - started < 30_000, 'did not wait for the timeout');
  });

  it('returns what the probe gives while the process runs', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30_000)'], { stdio: 'ignore' });
    try {
      let calls = 0;
      assert.equal(
        await pollWhileRunning({ name: 'server', child }, () => (++calls >= 2 ? 42 : undefined), 'x', { timeoutMs: 5_000, intervalMs: 1 }),
        42,
      );
    } finally {
      child.kill('SIGKILL');
    }
  });
});
