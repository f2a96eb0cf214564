// scripts/deploy/stage-variables.cjs, called as the Serverless CLI calls a `${file(…):…}` function.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the CLI requires this CommonJS file; so does the test
const vars = require('../../../scripts/deploy/stage-variables.cjs') as {
  ssmReads: Record<string, (a: { resolveConfigurationProperty: (path: string[]) => Promise<unknown> }) => Promise<{ 'Fn::Sub': string }[]>>;
  consulHttpAddr: (a: { resolveVariable: (v: string) => Promise<unknown> }) => Promise<string>;
  parameterNames: (env: Record<string, unknown>) => string[];
};

function config(provider: Record<string, string>, fns: Record<string, Record<string, string>>) {
  return { resolveConfigurationProperty: async (path: string[]) => (path[0] === 'provider' ? provider : fns[path[1]]) };
}

describe('stage-variables.cjs', () => {
  it("ssmReads: a function may read the non-empty *_PARAMETER values of its environment, its own over the provider's", async () => {
    const c = config(
      {
        CONSUL_CACERT_PARAMETER: '/p/ca',
        CONSUL_CLIENT_CERT_PARAMETER: '',
        GREETER_CACERT_PARAMETER: '/p/shared',
        CONSUL_HTTP_ADDR: '/not/a/parameter',
      },
      {
        greet: { CONSUL_HTTP_TOKEN_PARAMETER: '/p/token/gw', GREETER_CACERT_PARAMETER: '/p/greeter-ca', CONSUL_HTTP_TOKEN: 'secret' },
      },
    );
    const arns = (await vars.ssmReads.greet(c)).map((r) => r['Fn::Sub']);
    assert.deepEqual(
      arns,
      ['/p/ca', '/p/greeter-ca', '/p/token/gw'].map((n) => `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${n}`),
    );
  });

  it('ssmReads: refuses a function that names no parameter, and a name that is not a full path', async () => {
    await assert.rejects(vars.ssmReads.status(config({}, { status: { CONSUL_HTTP_TOKEN_PARAMETER: ' ' } })), /names no SSM parameter/);
    await assert.rejects(
      vars.ssmReads.status(config({}, { status: { CONSUL_HTTP_TOKEN_PARAMETER: 'relative/name' } })),
      /must be a full name/,
    );
  });

  it('parameterNames: trimmed, de-duplicated and sorted', () => {
    assert.deepEqual(vars.parameterNames({ B_PARAMETER: ' /b ', A_PARAMETER: '/a', C_PARAMETER: '/a', D: '/d' }), ['/a', '/b']);
  });

  it('consulHttpAddr: http on 8500 without Consul TLS parameters, https on 8501 with any one of them', async () => {
    const withParams = (p: Record<string, string>) => ({ resolveVariable: async (v: string) => p[v.replace(/^param:/, '')] ?? '' });
    assert.equal(await vars.consulHttpAddr(withParams({})), 'http://consul.service.internal:8500');
    assert.equal(
      await vars.consulHttpAddr(withParams({ greeterCaCertParameter: '/p/g' })),
      'http://consul.service.internal:8500',
      'the Greeter CA is not Consul TLS',
    );
    for (const p of ['consulCaCertParameter', 'consulClientCertParameter', 'consulClientKeyParameter'])
      assert.equal(await vars.consulHttpAddr(withParams({ [p]: '/p/x' })), 'https://consul.service.internal:8501', p);
    assert.equal(
      await vars.consulHttpAddr(withParams({ consulCaCertParameter: '  ' })),
      'http://consul.service.internal:8500',
      'blank is unset',
    );
  });
});
