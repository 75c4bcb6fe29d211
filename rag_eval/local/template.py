"""template.yaml read offline: the SAM transform, a moto deployment, settings and routes.

The template is the single source of the stack's shape and of its settings' names, so the
local stack takes everything from it:

- `expand_template()` applies the SAM transform with aws-sam-translator, without AWS calls.
- `deploy()` creates the expanded stack in moto's CloudFormation, without the resources moto
  cannot take or must not have, and returns each resource's physical id (what `Ref` gives).
- `function_environment()` is a function's environment with those physical ids filled in.
- `api_routes()` are the API routes declared by the functions' Api events.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from rag_eval.local.lambda_context import LOCAL_REGION

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
STACK_NAME = "ragas-serverless"
DEFAULT_REGION = LOCAL_REGION

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
# `sam build` / `sam package` put the code in S3 and ECR; the transform only copies locations.
_PLACEHOLDER_BUCKET = "ragas-serverless-local-code"
_PLACEHOLDER_REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
# Properties moto's CloudFormation takes but does not apply; deploy() applies them itself.
_IGNORED_BY_MOTO = {
    "AWS::DynamoDB::Table": ("TimeToLiveSpecification", "PointInTimeRecoverySpecification"),
    "AWS::S3::Bucket": (
        "PublicAccessBlockConfiguration",
        "OwnershipControls",
        "LifecycleConfiguration",
    ),
}
_SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")


class ApiRoute(NamedTuple):
    """One API Gateway route of the template and the function that serves it."""

    method: str  # upper case
    path: str  # as API Gateway has it: /score-jobs/{job_id}
    function: str  # logical id of the function serving it


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The SAM template as plain data, short tags (!Ref, !GetAtt, !Sub...) in long form."""
    import yaml

    class CloudFormationLoader(yaml.SafeLoader):
        pass

    def long_form(loader: yaml.SafeLoader, tag: str, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if tag in ("Ref", "Condition"):
            return {tag: value}
        if tag == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{tag}": value}

    CloudFormationLoader.add_multi_constructor("!", long_form)
    return yaml.load(path.read_text(encoding="utf-8"), Loader=CloudFormationLoader)


def api_routes() -> list[ApiRoute]:
    """The routes of the functions' Api events, in template order."""
    routes = []
    for logical_id, resource in load_template()["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "Api":
                properties = event["Properties"]
                routes.append(
                    ApiRoute(properties["Method"].upper(), properties["Path"], logical_id)
                )
    return routes


def expand_template(
    parameters: Mapping[str, str] | None = None, region: str = DEFAULT_REGION
) -> dict[str, Any]:
    """The CloudFormation template the SAM transform makes of template.yaml, made offline."""
    import boto3
    from samtranslator.feature_toggle.feature_toggle import (
        FeatureToggle,
        FeatureToggleDefaultConfigProvider,
    )
    from samtranslator.metrics.metrics import Metrics
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    class NoFeatureToggles(FeatureToggle):
        # The default toggles answer False too, but log a warning for every feature asked.
        def is_enabled(self, feature_name: str) -> bool:
            return False

    template = load_template()
    _check_parameter_names(template, parameters)
    _point_code_at_placeholders(template)
    # The session only names the region (for pseudo parameters); the transform calls no AWS
    # API as long as the managed-policy map is never needed (the template names ARNs).
    session = boto3.session.Session(region_name=region)
    # Its metrics go to a no-op publisher, but unpublished ones are warned about.
    metrics = Metrics("ServerlessTransform")
    translator = Translator({}, Parser(), boto_session=session, metrics=metrics)
    expanded = translator.translate(
        template,
        parameter_values=dict(parameters or {}),
        feature_toggle=NoFeatureToggles(FeatureToggleDefaultConfigProvider(), None, None, region),
        get_managed_policy_map=dict,
    )
    metrics.publish()
    return expanded


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
        if logical_id not in left_out and _references(resource) & left_out
    }:
        left_out |= dependents
    template["Resources"] = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if logical_id not in left_out
    }
    template["Outputs"] = {
        name: output
        for name, output in template.get("Outputs", {}).items()
        if not _references(output) & left_out
    }
    return template


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
    physical_ids = {
        resource["LogicalResourceId"]: resource["PhysicalResourceId"]
        for resource in stack_resources["StackResources"]
        if "LogicalResourceId" in resource
    }
    refs = {**_parameter_values(template, parameters), **physical_ids}
    _apply_properties_moto_ignores(cloudformation_client, template, physical_ids, refs)
    return physical_ids


def function_environment(
    logical_id: str,
    physical_ids: Mapping[str, str],
    parameters: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A function's environment variables (Globals merged) with every reference resolved.

    physical_ids is what deploy() returned; parameters are the ones given to deploy().
    """
    template = expand_template(parameters)
    resource = template["Resources"].get(logical_id)
    if resource is None or resource["Type"] != "AWS::Lambda::Function":
        raise ValueError(f"{logical_id} is not a function of {TEMPLATE_PATH.name}")
    variables = resource["Properties"].get("Environment", {}).get("Variables", {})
    refs = {**_parameter_values(template, parameters), **physical_ids}
    resolved = _resolve(variables, refs, template.get("Mappings", {}))
    return {name: str(value) for name, value in resolved.items()}


def _check_parameter_names(template: dict[str, Any], parameters: Mapping[str, str] | None) -> None:
    unknown = set(parameters or {}) - set(template.get("Parameters", {}))
    if unknown:
        raise ValueError(f"unknown template parameters: {', '.join(sorted(unknown))}")


def _parameter_values(
    template: dict[str, Any], parameters: Mapping[str, str] | None
) -> dict[str, str]:
    """Every parameter's value as `Ref` gives it (a string, numbers included)."""
    values = {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }
    values.update({name: str(value) for name, value in (parameters or {}).items()})
    return values


def _point_code_at_placeholders(template: dict[str, Any]) -> None:
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            if properties.get("PackageType") == "Image":
                properties["ImageUri"] = f"{_PLACEHOLDER_REGISTRY}/{logical_id.lower()}:local"
            else:
                properties["CodeUri"] = {"Bucket": _PLACEHOLDER_BUCKET, "Key": f"{logical_id}.zip"}
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = {"Bucket": _PLACEHOLDER_BUCKET, "Key": f"{logical_id}.zip"}


def _references(node: Any) -> set[str]:
    """The names a template fragment refers to through Ref, Fn::GetAtt, Fn::Sub, DependsOn."""
    if isinstance(node, list):
        return set().union(*(_references(item) for item in node))
    if not isinstance(node, dict):
        return set()
    names: set[str] = set()
    for key, value in node.items():
        if key == "Ref" and isinstance(value, str):
            names.add(value)
        elif key == "Fn::GetAtt":
            names.add(value.split(".")[0] if isinstance(value, str) else value[0])
        elif key == "Fn::Sub":
            text = value if isinstance(value, str) else value[0]
            names |= {name.split(".")[0] for name in _SUB_NAME.findall(text)}
            names |= _references(value[1:] if isinstance(value, list) else [])
        elif key == "DependsOn":
            names |= {value} if isinstance(value, str) else set(value)
        else:
            names |= _references(value)
    return names


def _resolve(node: Any, refs: Mapping[str, str], mappings: Mapping[str, Any]) -> Any:
    """Replace Ref, Fn::Sub and Fn::FindInMap by their values; refuse other functions."""
    if isinstance(node, list):
        return [_resolve(item, refs, mappings) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, value),) = node.items()
        if key == "Ref":
            return _lookup(refs, value)
        if key == "Fn::Sub" and isinstance(value, str):
            return _SUB_NAME.sub(lambda match: _lookup(refs, match.group(1)), value)
        if key == "Fn::FindInMap":
            mapping, first, second = _resolve(value, refs, mappings)
            return mappings[mapping][first][second]
        if key.startswith("Fn::"):
            raise ValueError(f"{key} is not resolved locally: {node}")
    return {key: _resolve(value, refs, mappings) for key, value in node.items()}


def _lookup(refs: Mapping[str, str], name: str) -> str:
    if name not in refs:
        raise ValueError(f"cannot resolve {name} locally: not a parameter nor a created resource")
    return refs[name]


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
            key: _resolve(value, refs, template.get("Mappings", {}))
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
