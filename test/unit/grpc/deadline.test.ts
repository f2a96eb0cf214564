import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callBudgetMs } from '../../../lib/grpc/deadline';

describe('callBudgetMs', () => {
  it('uses the configured deadline when the Lambda has time', () => assert.equal(callBudgetMs(2000, 10_000, 250), 2000));
  it("cuts to the Lambda's remaining time minus the margin", () => assert.equal(callBudgetMs(2000, 1000, 250), 750));
  it('never goes negative', () => assert.equal(callBudgetMs(2000, 100, 250), 0));
  it('ignores the Lambda when there is no context', () => assert.equal(callBudgetMs(2000, undefined, 250), 2000));
});
