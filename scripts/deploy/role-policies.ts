/**
 * The IAM policies each function of a packaged template runs with, resolved to concrete values, and an
 * IAM policy evaluator over them (@cloud-copilot/iam-simulate: AWS's evaluation logic for identity
 * policies with their conditions, offline). Used by test/integration/iam-roles.test.ts to prove every
 * role from the template that `serverless package` really produces.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { resolveIntrinsics, type CfnValue, type StackValues } from './cfn-intrinsics';

/** The part of a CloudFormation template this module reads. */
export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, CfnValue> }>;
}

/** An IAM policy document (resolved). */
export interface PolicyDocument {
  Version?: string;
  Statement: Record<string, unknown>[];
}

/** The role a function runs with: its inline policies, resolved, and its managed policy ARNs. */
export interface FunctionRole {
  /** serverless.yml's function key (FunctionName minus `<service>-<stage>-`). */
  fn: string;
  roleLogicalId: string;
  roleArn: string;
  inline: { name: string; document: PolicyDocument }[];
  managedPolicyArns: string[];
}

/** What an evaluation answers. */
export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

/** The role of every Lambda function in `template`, resolved with `stack`; throws on a role it cannot read. */
export function functionRoles(template: CfnTemplate, stack: StackValues & { stackName: string }): FunctionRole[] {
  const roles: FunctionRole[] = [];
  for (const [id, res] of Object.entries(template.Resources)) {
    if (res.Type !== 'AWS::Lambda::Function') continue;
    const name = String(res.Properties?.FunctionName ?? id);
    const role = res.Properties?.Role as { 'Fn::GetAtt'?: [string, string] } | undefined;
    const roleId = role?.['Fn::GetAtt']?.[0];
    const roleRes = roleId ? template.Resources[roleId] : undefined;
    if (!roleId || roleRes?.Type !== 'AWS::IAM::Role')
      throw new Error(`${id}: its Role is not a role of this template (${JSON.stringify(role)})`);
    const props = resolveIntrinsics(roleRes.Properties ?? {}, stack) as {
      RoleName?: string;
      Path?: string;
      Policies?: { PolicyName: string; PolicyDocument: PolicyDocument }[];
      ManagedPolicyArns?: string[];
    };
    const roleName = props.RoleName ?? `${stack.stackName}-${roleId}`;
    roles.push({
      fn: name.startsWith(`${stack.stackName}-`) ? name.slice(stack.stackName.length + 1) : name,
      roleLogicalId: roleId,
      roleArn: `arn:${stack.partition ?? 'aws'}:iam::${stack.accountId}:role${props.Path ?? '/'}${roleName}`,
      inline: (props.Policies ?? []).map((p) => ({ name: p.PolicyName, document: p.PolicyDocument })),
      managedPolicyArns: props.ManagedPolicyArns ?? [],
    });
  }
  return roles;
}

/** A request to evaluate: an action on a resource ARN, with the request's condition keys. */
export interface Request {
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
}

/**
 * How AWS would decide `req` for a principal holding `policies` as identity policies (same account, no
 * resource policy, SCP or boundary). Throws when the simulator refuses the input (an unknown action, a
 * resource ARN the action does not take, a malformed policy): a typo must not read as a denial.
 */
export async function decide(
  policies: { name: string; document: PolicyDocument }[],
  principalArn: string,
  accountId: string,
  req: Request,
): Promise<Decision> {
  const res = await runSimulation(
    {
      request: {
        principal: principalArn,
        action: req.action,
        resource: { resource: req.resource, accountId },
        contextVariables: req.context ?? {},
      },
      identityPolicies: policies.map((p) => ({ name: p.name, policy: p.document })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (res.resultType === 'error') throw new Error(`iam-simulate refused ${req.action} on ${req.resource}: ${JSON.stringify(res.errors)}`);
  return res.overallResult as Decision;
}

/** The decision for a function's role (its inline policies; the managed VPC policy grants no SSM or Cloud Map action). */
export function decideFor(role: FunctionRole, accountId: string, req: Request): Promise<Decision> {
  return decide(role.inline, role.roleArn, accountId, req);
}

/** The ARN of SSM parameter `name` ("/a/b"). */
export const ssmParameterArn = (s: Pick<StackValues, 'partition' | 'region' | 'accountId'>, name: string): string =>
  `arn:${s.partition ?? 'aws'}:ssm:${s.region}:${s.accountId}:parameter${name}`;
