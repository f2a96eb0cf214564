// greet calls SayHello with ts-proto's codec and its own idempotency flag; the rpc route reads both from the
// shipped descriptors. This holds them equal, so one method gets one policy whichever route calls it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SAY_HELLO, SAY_HELLO_HEDGED } from '../../../lib/greeter/say-hello';
import { shippedDescriptors } from '../../../lib/rpc/descriptors';

describe('SAY_HELLO', () => {
  it('is the shipped descriptor of helloworld.Greeter/SayHello: path and idempotency (NO_SIDE_EFFECTS)', () => {
    const m = shippedDescriptors().method(SAY_HELLO.service, SAY_HELLO.method);
    assert.ok(m, 'the descriptor set has helloworld.Greeter/SayHello');
    assert.equal(m.path, SAY_HELLO.path);
    assert.equal(m.idempotent, true);
    assert.equal(SAY_HELLO.idempotent, m.idempotent);
    assert.deepEqual(SAY_HELLO_HEDGED, [{ service: 'helloworld.Greeter', method: 'SayHello' }]);
  });

  it('encodes a HelloRequest as the descriptors decode it', () => {
    const m = shippedDescriptors().method(SAY_HELLO.service, SAY_HELLO.method)!;
    const bytes = SAY_HELLO.serialize({ name: 'Ada' });
    const reply = SAY_HELLO.deserialize(Buffer.from([0x0a, 0x02, 0x48, 0x69]));
    assert.equal(reply.message, 'Hi');
    assert.equal(m.desc.input.fields[0]?.name, 'name');
    assert.deepEqual([...bytes], [0x0a, 0x03, 0x41, 0x64, 0x61]);
  });
});
