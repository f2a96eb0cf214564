import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailoverLog } from '../../../lib/greeter/failover-log';
import { recordingLog } from '../helpers/recording-log';

const WHERE = { service: 'greeter', from: 'dc1', to: 'dc2' };

describe('FailoverLog', () => {
  it('logs the first failover at once, then at most one line per interval with the calls counted since', () => {
    const log = recordingLog();
    let now = 1_000;
    const f = new FailoverLog(log, () => now, 10_000);
    f.note(WHERE);
    for (let i = 0; i < 4; i++) {
      now += 1_000;
      f.note(WHERE);
    }
    assert.equal(log.lines.length, 1);
    assert.equal(log.lines[0]?.attributes.calls, 1);
    now += 10_000;
    f.note(WHERE);
    assert.equal(log.lines.length, 2);
    assert.equal(log.lines[1]?.level, 'warn');
    assert.deepEqual(log.lines[1]?.attributes, { backendService: 'greeter', from: 'dc1', to: 'dc2', calls: 5 });
  });

  it('keeps one throttle per runtime: two logs do not silence each other', () => {
    const a = recordingLog();
    const b = recordingLog();
    const now = () => 0;
    new FailoverLog(a, now).note(WHERE);
    new FailoverLog(b, now).note(WHERE);
    assert.equal(a.lines.length + b.lines.length, 2);
  });
});
