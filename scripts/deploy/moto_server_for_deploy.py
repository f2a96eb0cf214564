"""moto_server for `serverless deploy` rehearsals: moto's own server with two small, stated patches.

1. ValidateTemplate rejects only cfn-lint *errors*. moto runs every cfn-lint rule there and answers
   ValidationError on the first match of any level, so the W3005 warnings that the Serverless
   Framework itself generates (a DependsOn next to a Ref/GetAtt of the same resource) stop every
   deploy. Real CloudFormation runs no cfn-lint. We keep the template byte for byte as `serverless
   deploy` sends it to AWS and keep moto strict on E-level findings; W/I findings are printed to
   stderr and let through. They are gated on their own: `npm run lint:cfn` fails on any warning that
   is not listed, with its reason, in scripts/deploy/cfn-lint-allow.json.
2. DescribeStackResource skips resource types moto does not implement. moto keeps them as `None` in
   the stack and the lookup then fails with a 500 (AttributeError), which breaks `serverless remove`
   (it asks for the deployment bucket first). AWS would simply find the bucket.

Alternatives looked at for 1: moto has no setting for it (ValidateTemplate always lints with every
rule and raises on the first match; CreateStack/CreateChangeSet do not lint); stripping those DependsOn
entries after `serverless package` would deploy a template other than the one AWS gets, on every run.

No other behaviour changes; without these patches this is `moto_server` with the same arguments.
Usage: <moto venv>/bin/python moto_server_for_deploy.py -H 127.0.0.1 -p <port>
"""
import sys

import moto.cloudformation.models as cfn_models
from moto.cloudformation.exceptions import ValidationError
from moto.server import main

_lint = cfn_models.validate_template_cfn_lint


def _errors_only(template):
    matches = _lint(template)
    errors = [m for m in matches if m.rule.id.startswith("E")]
    for m in matches:
        if not m.rule.id.startswith("E"):
            print(f"cfn-lint {m.rule.id} let through (not an error): {m.message}", file=sys.stderr, flush=True)
    return errors


def _describe_stack_resource(self, stack_name, logical_resource_id):
    stack = self.get_stack(stack_name)
    for resource in stack.stack_resources:
        if resource is not None and resource.logical_resource_id == logical_resource_id:
            return stack, resource
    raise ValidationError(stack_name, f"Resource {logical_resource_id} does not exist for stack {stack_name}")


# models.py imported the linter by name; ValidateTemplate calls it through this module attribute.
cfn_models.validate_template_cfn_lint = _errors_only
cfn_models.CloudFormationBackend.describe_stack_resource = _describe_stack_resource

if __name__ == "__main__":
    sys.exit(main())
