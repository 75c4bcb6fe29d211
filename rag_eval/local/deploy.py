"""template.yaml deployed into moto: the expanded stack without what moto cannot take, then
the properties moto's CloudFormation ignores applied through the services' own APIs.

- `moto_template()` is the expanded template as moto's CloudFormation can create it.
- `deploy()` creates it and returns each resource's physical id (what `Ref` gives).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rag_eval.local.template import (
    DEFAULT_REGION,
    STACK_NAME,
    event_bus_names,
    expand_template,
    parameter_values,
    references,
    resolve,
)

# Resource types the moto stack leaves out (matched as prefixes), and why.
_LEFT_OUT_OF_MOTO = (
    # The local HTTP front serves the routes by calling the handlers (see api_routes()).
    "AWS::ApiGateway::",
    "AWS::Lambda::Permission",
    # moto would "invoke" the function on every send and drop the message: the local poller
    # plays the SQS event source instead.
    "AWS::Lambda::EventSourceMapping",
    # Its content must already be in S3; locally the handlers import rag_eval directly.
    "AWS::Lambda::LayerVersion",
    # Not implemented by moto's CloudFormation (it warns and skips them).
    "AWS::CloudWatch::Alarm",
    "AWS::S3::BucketPolicy",
)
# moto never runs function code without Docker: its functions only carry names, roles, settings.
_STUB_HANDLER = "def lambda_handler(event, context):\n    raise NotImplementedError\n"
# Properties moto's CloudFormation takes but does not apply; deploy() applies them itself.
_IGNORED_BY_MOTO = {
    "AWS::DynamoDB::Table": ("TimeToLiveSpecification", "PointInTimeRecoverySpecification"),
    "AWS::S3::Bucket": (
        "PublicAccessBlockConfiguration",
        "OwnershipControls",
        "LifecycleConfiguration",
    ),
}


def moto_template(
    parameters: Mapping[str, str] | None = None, region: str = DEFAULT_REGION
) -> dict[str, Any]:
    """The expanded template as moto's CloudFormation can create it (see _LEFT_OUT_OF_MOTO)."""
    template = expand_template(parameters, region)
    resources = template["Resources"]
    for resource in resources.values():
        if resource["Type"] == "AWS::Lambda::Function":
            properties = resource["Properties"]
            for name in ("Layers", "PackageType", "ImageConfig"):
                properties.pop(name, None)
            properties["Code"] = {"ZipFile": _STUB_HANDLER}
    left_out = {
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"].startswith(_LEFT_OUT_OF_MOTO)
    }
    # Whatever refers to a left-out resource goes too (e.g. a usage plan, the ApiUrl output).
    while dependents := {
        logical_id
        for logical_id, resource in resources.items()
        if logical_id not in left_out and references(resource) & left_out
    }:
        left_out |= dependents
    template["Resources"] = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if logical_id not in left_out
    }
    # moto's `Ref` of an event bus gives its model, not its name: name it where referred to.
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Events::EventBus":
            template = _replace_ref(template, logical_id, resource["Properties"]["Name"])
    template["Outputs"] = {
        name: output
        for name, output in template.get("Outputs", {}).items()
        if not references(output) & left_out
    }
    return template


def _replace_ref(node: Any, logical_id: str, value: Any) -> Any:
    if node == {"Ref": logical_id}:
        return value
    if isinstance(node, list):
        return [_replace_ref(item, logical_id, value) for item in node]
    if isinstance(node, dict):
        return {key: _replace_ref(item, logical_id, value) for key, item in node.items()}
    return node


def deploy(
    cloudformation_client: Any,
    stack_name: str = STACK_NAME,
    parameters: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Create the stack in moto; return {logical id: physical id} of the resources it made.

    The physical id is what `Ref` gives: the table's and bucket's names, the queues' URLs.
    The properties moto's CloudFormation ignores (DynamoDB TTL and point-in-time recovery,
    S3 public access block, ownership controls and lifecycle) are then applied through the
    services' own APIs, so the local resources look like the deployed ones.
    """
    region = cloudformation_client.meta.region_name
    template = moto_template(parameters, region)
    cloudformation_client.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Parameters=[
            {"ParameterKey": name, "ParameterValue": str(value)}
            for name, value in (parameters or {}).items()
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cloudformation_client.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(
            f"stack {stack_name} is {stack['StackStatus']}: {stack.get('StackStatusReason', '')}"
        )
    stack_resources = cloudformation_client.describe_stack_resources(StackName=stack_name)
    # moto lists the resources whose Condition is false too, without a logical id.
    physical_ids = event_bus_names(stack_name) | {
        resource["LogicalResourceId"]: resource["PhysicalResourceId"]
        for resource in stack_resources["StackResources"]
        if "LogicalResourceId" in resource and resource.get("PhysicalResourceId")
    }
    refs = {**parameter_values(template, parameters), **physical_ids}
    _apply_properties_moto_ignores(cloudformation_client, template, physical_ids, refs)
    return physical_ids


def _apply_properties_moto_ignores(
    cloudformation_client: Any,
    template: dict[str, Any],
    physical_ids: Mapping[str, str],
    refs: Mapping[str, str],
) -> None:
    dynamodb = _client_beside(cloudformation_client, "dynamodb")
    s3 = _client_beside(cloudformation_client, "s3")
    for logical_id, resource in template["Resources"].items():
        ignored = _IGNORED_BY_MOTO.get(resource["Type"], ())
        if logical_id not in physical_ids or not ignored:
            continue
        properties = {
            key: resolve(value, refs, template.get("Mappings", {}))
            for key, value in resource["Properties"].items()
            if key in ignored
        }
        if resource["Type"] == "AWS::DynamoDB::Table":
            _apply_table_properties(dynamodb, physical_ids[logical_id], properties)
        else:
            _apply_bucket_properties(s3, physical_ids[logical_id], properties)


def _apply_table_properties(dynamodb: Any, table: str, properties: dict[str, Any]) -> None:
    if "TimeToLiveSpecification" in properties:
        dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification=properties["TimeToLiveSpecification"]
        )
    if "PointInTimeRecoverySpecification" in properties:
        dynamodb.update_continuous_backups(
            TableName=table,
            PointInTimeRecoverySpecification=properties["PointInTimeRecoverySpecification"],
        )


def _apply_bucket_properties(s3: Any, bucket: str, properties: dict[str, Any]) -> None:
    if "PublicAccessBlockConfiguration" in properties:
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"],
        )
    if "OwnershipControls" in properties:
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls=properties["OwnershipControls"]
        )
    if "LifecycleConfiguration" in properties:
        rules = properties["LifecycleConfiguration"]["Rules"]
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in rules]}
        )


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A lifecycle rule as CloudFormation spells it, in the S3 API's spelling."""
    unknown = rule.keys() - {
        "Id",
        "Status",
        "Prefix",
        "ExpirationInDays",
        "AbortIncompleteMultipartUpload",
    }
    if unknown:
        raise ValueError(f"lifecycle rule {rule.get('Id')}: {sorted(unknown)} not applied locally")
    api_rule: dict[str, Any] = {
        "ID": rule["Id"],
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        api_rule["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        api_rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    return api_rule


def _client_beside(cloudformation_client: Any, service: str) -> Any:
    """A client of another service where the CloudFormation client goes (moto serves all)."""
    import boto3

    endpoint = cloudformation_client.meta.endpoint_url
    return boto3.client(
        service,
        region_name=cloudformation_client.meta.region_name,
        # An AWS endpoint means moto's in-process mock, which intercepts the default one.
        endpoint_url=None if endpoint.endswith(".amazonaws.com") else endpoint,
    )
