/**
 * Values of serverless.yml that depend on other settings, computed when the Serverless CLI resolves its
 * variables (`${file(scripts/deploy/stage-variables.cjs):…}`; the CLI requires this file, so it is plain
 * CommonJS). YAML variables cannot filter a list or test for an empty string, and these must:
 *
 * - ssmReads.<function>: the SSM parameters that function's role may read. Exactly the non-empty
 *   `*_PARAMETER` variables of its environment (the provider's, overridden by its own), because those are
 *   the only parameters lib/config/secrets.ts ever reads for it. A TLS parameter that is not configured is
 *   not granted at all, and one that is set is granted to every function that is told to read it.
 * - consulHttpAddr: the deployed default Consul address, https on 8501 as soon as any Consul TLS
 *   parameter is given (a token must never travel in clear to an agent we verify), else http on 8500.
 */
'use strict';

/** The ARN of SSM parameter `name` ("/a/b") in the stack's partition, region and account. */
const parameterArn = (name) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${name}` });

/** The non-empty `*_PARAMETER` values of an environment, sorted and without duplicates. */
function parameterNames(environment) {
  const names = Object.entries(environment || {})
    .filter(([key, value]) => key.endsWith('_PARAMETER') && typeof value === 'string' && value.trim() !== '')
    .map(([, value]) => value.trim());
  return [...new Set(names)].sort();
}

/** Resource list of the ssm:GetParameter statement of function `fn`'s role. */
function ssmReadsOf(fn) {
  return async ({ resolveConfigurationProperty }) => {
    const provider = (await resolveConfigurationProperty(['provider', 'environment'])) || {};
    const own = (await resolveConfigurationProperty(['functions', fn, 'environment'])) || {};
    const names = parameterNames({ ...provider, ...own });
    if (!names.length)
      throw new Error(`functions.${fn} names no SSM parameter, so its role would have an empty ssm:GetParameter statement`);
    for (const n of names)
      if (!n.startsWith('/')) throw new Error(`functions.${fn}: SSM parameter "${n}" must be a full name starting with "/"`);
    return names.map(parameterArn);
  };
}

const TLS_PARAMS = ['consulCaCertParameter', 'consulClientCertParameter', 'consulClientKeyParameter'];

/** The deployed default CONSUL_HTTP_ADDR: https when any Consul TLS parameter is set. */
async function consulHttpAddr({ resolveVariable }) {
  const values = await Promise.all(TLS_PARAMS.map((p) => resolveVariable(`param:${p}`)));
  return values.some((v) => typeof v === 'string' && v.trim() !== '')
    ? 'https://consul.service.internal:8501'
    : 'http://consul.service.internal:8500';
}

module.exports = {
  ssmReads: {
    greet: ssmReadsOf('greet'),
    status: ssmReadsOf('status'),
    instances: ssmReadsOf('instances'),
    healthSync: ssmReadsOf('healthSync'),
    rpc: ssmReadsOf('rpc'),
  },
  consulHttpAddr,
  parameterNames,
};
