import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveIntrinsics, type CfnValue } from '../../../scripts/deploy/cfn-intrinsics';

const stack = {
  region: 'eu-west-1',
  accountId: '123456789012',
  stackName: 'svc-prod',
  refs: { Stage: 'prod', ApiGatewayRestApi: 'abc123' },
  attributes: { 'GreetRole.Arn': 'arn:aws:iam::123456789012:role/greet' },
};

describe('resolveIntrinsics', () => {
  it('resolves Ref to pseudo parameters and to given refs', () => {
    assert.equal(resolveIntrinsics({ Ref: 'AWS::Region' }, stack), 'eu-west-1');
    assert.equal(resolveIntrinsics({ Ref: 'AWS::AccountId' }, stack), '123456789012');
    assert.equal(resolveIntrinsics({ Ref: 'AWS::Partition' }, stack), 'aws');
    assert.equal(resolveIntrinsics({ Ref: 'AWS::Partition' }, { ...stack, partition: 'aws-cn' }), 'aws-cn');
    assert.equal(resolveIntrinsics({ Ref: 'AWS::StackName' }, stack), 'svc-prod');
    assert.equal(resolveIntrinsics({ Ref: 'Stage' }, stack), 'prod');
  });

  it('resolves Fn::Sub: pseudo parameters, refs, attributes, its own variables and ${!literals}', () => {
    assert.equal(
      resolveIntrinsics({ 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/x/${Stage}' }, stack),
      'arn:aws:ssm:eu-west-1:123456789012:parameter/x/prod',
    );
    assert.equal(resolveIntrinsics({ 'Fn::Sub': '${GreetRole.Arn}' }, stack), 'arn:aws:iam::123456789012:role/greet');
    assert.equal(resolveIntrinsics({ 'Fn::Sub': ['${Name}-${AWS::Region}', { Name: { Ref: 'Stage' } }] }, stack), 'prod-eu-west-1');
    assert.equal(resolveIntrinsics({ 'Fn::Sub': 'keep ${!Literal} as is' }, stack), 'keep ${Literal} as is');
  });

  it('resolves Fn::Join over nested intrinsics, and Fn::GetAtt in both spellings', () => {
    const join: CfnValue = { 'Fn::Join': ['', ['arn:aws:ssm:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':parameter/a']] };
    assert.equal(resolveIntrinsics(join, stack), 'arn:aws:ssm:eu-west-1:123456789012:parameter/a');
    assert.equal(resolveIntrinsics({ 'Fn::GetAtt': ['GreetRole', 'Arn'] }, stack), 'arn:aws:iam::123456789012:role/greet');
    assert.equal(resolveIntrinsics({ 'Fn::GetAtt': 'GreetRole.Arn' }, stack), 'arn:aws:iam::123456789012:role/greet');
  });

  it('walks objects and lists, leaving plain values as they are', () => {
    const doc: CfnValue = {
      Statement: [
        { Effect: 'Allow', Action: ['a:B'], Resource: [{ 'Fn::Sub': 'x-${AWS::Region}' }, '*'], Condition: { NumericLessThan: { k: 5 } } },
      ],
    };
    assert.deepEqual(resolveIntrinsics(doc, stack), {
      Statement: [{ Effect: 'Allow', Action: ['a:B'], Resource: ['x-eu-west-1', '*'], Condition: { NumericLessThan: { k: 5 } } }],
    });
  });

  it('throws on what it cannot resolve, never leaving an intrinsic behind', () => {
    assert.throws(() => resolveIntrinsics({ Ref: 'Unknown' }, stack), /cannot resolve Ref Unknown/);
    assert.throws(() => resolveIntrinsics({ 'Fn::Sub': 'a-${Missing}' }, stack), /cannot resolve Ref Missing/);
    assert.throws(() => resolveIntrinsics({ 'Fn::GetAtt': ['Other', 'Arn'] }, stack), /cannot resolve Fn::GetAtt/);
    assert.throws(() => resolveIntrinsics({ 'Fn::If': ['C', 'a', 'b'] }, stack), /unsupported intrinsic Fn::If/);
    assert.throws(() => resolveIntrinsics({ 'Fn::ImportValue': 'x' }, stack), /unsupported intrinsic/);
    assert.throws(() => resolveIntrinsics({ 'Fn::Join': ['', { Ref: 'Stage' }] }, stack), /needs a list/);
    assert.throws(() => resolveIntrinsics({ 'Fn::Join': [',', [{ Statement: [] }]] }, stack), /not a string/);
  });
});
