// Which rpc failures count as RpcFailures, the metric the rpc failure-rate alarm watches.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isServingFailure, RpcError, RpcStatusError, type RpcErrorKind } from '../../../lib/rpc/errors';

// A Record over every kind: a new kind fails type-checking here until it is classified.
const SERVING_FAILURE: Record<RpcErrorKind, boolean> = {
  not_found: false,
  invalid_argument: false,
  unimplemented: false,
  no_healthy_instance: true,
  unavailable: true,
  deadline: true,
  forbidden_by_intention: true,
};

describe('isServingFailure', () => {
  for (const [kind, expected] of Object.entries(SERVING_FAILURE) as [RpcErrorKind, boolean][])
    it(`${kind}: ${expected ? 'a failure of the route' : "the caller's mistake"}`, () => {
      assert.equal(isServingFailure(new RpcError(kind, 'x')), expected);
    });

  it("a backend's own gRPC status is its answer, never the route's failure, whatever the code", () => {
    // UNAVAILABLE (14) never arrives as one (the route words it as RpcError 'unavailable'), but would count as an answer too.
    for (const code of [2, 5, 13, 14]) assert.equal(isServingFailure(new RpcStatusError(code, { code }, 1, 'echo')), false, `code ${code}`);
  });

  it('anything else (a fault of the route itself) is a failure', () => {
    assert.equal(isServingFailure(new Error('boom')), true);
    assert.equal(isServingFailure(undefined), true);
  });
});
