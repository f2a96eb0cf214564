/**
 * Resolves the CloudFormation intrinsics that the packaged templates use in IAM policies (Ref to pseudo
 * parameters and template parameters, Fn::Sub, Fn::Join, Fn::GetAtt of a given resource attribute) to
 * concrete values, so a policy can be handed to an IAM evaluator as AWS would see it after deploying.
 * Anything else (Fn::If, Fn::ImportValue, an unknown name…) throws: an evaluation must never run on a
 * half-resolved policy, where an unresolved ARN would simply match nothing and look like a denial.
 */

/** The concrete values a stack is deployed with. */
export interface StackValues {
  partition?: string;
  region: string;
  accountId: string;
  stackName?: string;
  /** Template parameters and resource physical ids, by logical name (Ref). */
  refs?: Record<string, string>;
  /** Resource attributes, by "LogicalId.Attribute" (Fn::GetAtt). */
  attributes?: Record<string, string>;
}

/** A value of a CloudFormation template: plain JSON with intrinsic-function objects inside. */
export type CfnValue = string | number | boolean | null | CfnValue[] | { [key: string]: CfnValue };

function pseudo(v: StackValues): Record<string, string> {
  return {
    'AWS::Partition': v.partition ?? 'aws',
    'AWS::Region': v.region,
    'AWS::AccountId': v.accountId,
    'AWS::URLSuffix': 'amazonaws.com',
    ...(v.stackName ? { 'AWS::StackName': v.stackName } : {}),
  };
}

function ref(name: string, v: StackValues): string {
  const value = pseudo(v)[name] ?? v.refs?.[name];
  if (value === undefined) throw new Error(`cannot resolve Ref ${name}`);
  return value;
}

function getAtt(arg: CfnValue, v: StackValues): string {
  const [id, attr] = typeof arg === 'string' ? arg.split(/\.(.*)/s, 2) : Array.isArray(arg) ? arg : [];
  const value = typeof id === 'string' && typeof attr === 'string' ? v.attributes?.[`${id}.${attr}`] : undefined;
  if (value === undefined) throw new Error(`cannot resolve Fn::GetAtt ${JSON.stringify(arg)}`);
  return value;
}

function sub(arg: CfnValue, v: StackValues): string {
  const [text, vars] =
    typeof arg === 'string' ? [arg, {}] : Array.isArray(arg) && typeof arg[0] === 'string' ? [arg[0], arg[1] ?? {}] : [undefined, {}];
  if (text === undefined || typeof vars !== 'object' || vars === null || Array.isArray(vars))
    throw new Error(`malformed Fn::Sub ${JSON.stringify(arg)}`);
  const local = Object.fromEntries(Object.entries(vars).map(([k, x]) => [k, asString(resolveIntrinsics(x, v), 'Fn::Sub variable')]));
  // ${!Literal} stands for the literal text ${Literal}.
  return text.replace(/\$\{(!?)([^}]*)\}/g, (_m, bang: string, name: string) => {
    if (bang) return `\${${name}}`;
    if (name in local) return local[name];
    const dot = name.indexOf('.');
    return dot > 0 && !name.startsWith('AWS::') ? getAtt(name, v) : ref(name, v);
  });
}

function join(arg: CfnValue, v: StackValues): string {
  if (!Array.isArray(arg) || typeof arg[0] !== 'string') throw new Error(`malformed Fn::Join ${JSON.stringify(arg)}`);
  const parts = resolveIntrinsics(arg[1], v);
  if (!Array.isArray(parts)) throw new Error(`Fn::Join needs a list, got ${JSON.stringify(arg[1])}`);
  return parts.map((p) => asString(p, 'Fn::Join element')).join(arg[0]);
}

function asString(x: CfnValue, where: string): string {
  if (typeof x === 'string') return x;
  if (typeof x === 'number' || typeof x === 'boolean') return String(x);
  throw new Error(`${where} is not a string: ${JSON.stringify(x)}`);
}

const FUNCTIONS: Record<string, (arg: CfnValue, v: StackValues) => string> = {
  Ref: (a, v) => ref(asString(a, 'Ref'), v),
  'Fn::Sub': sub,
  'Fn::Join': join,
  'Fn::GetAtt': getAtt,
};

/** `value` with every intrinsic replaced by its concrete value; throws on an intrinsic it does not know. */
export function resolveIntrinsics(value: CfnValue, v: StackValues): CfnValue {
  if (Array.isArray(value)) return value.map((x) => resolveIntrinsics(x, v));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) {
    const fn = FUNCTIONS[keys[0]];
    if (!fn) throw new Error(`unsupported intrinsic ${keys[0]}`);
    return fn(value[keys[0]], v);
  }
  return Object.fromEntries(keys.map((k) => [k, resolveIntrinsics(value[k], v)]));
}
