"""template.yaml read offline: the SAM transform, settings and routes.

The template is the single source of the stack's shape and of its settings' names, so the
local stack takes everything from it (`rag_eval.local.deploy` creates it in moto):

- `expand_template()` applies the SAM transform with aws-sam-translator, without AWS calls.
- `function_environment()` is a function's environment with those physical ids filled in.
- `api_routes()` are the API routes declared by the functions' Api events.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from rag_eval.local.lambda_context import LOCAL_REGION

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
STACK_NAME = "ragas-serverless"
DEFAULT_REGION = LOCAL_REGION

# `sam build` / `sam package` put the code in S3 and ECR; the transform only copies locations.
_PLACEHOLDER_BUCKET = "ragas-serverless-local-code"
_PLACEHOLDER_REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
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
    refs = {**parameter_values(template, parameters), **physical_ids}
    resolved = resolve(variables, refs, template.get("Mappings", {}))
    return {name: str(value) for name, value in resolved.items()}


def event_bus_names(stack_name: str = STACK_NAME) -> dict[str, str]:
    """Each event bus's name, what `Ref` gives: moto's CloudFormation reports no physical id
    for a bus."""
    return {
        logical_id: resolve(resource["Properties"]["Name"], {"AWS::StackName": stack_name}, {})
        for logical_id, resource in load_template()["Resources"].items()
        if resource["Type"] == "AWS::Events::EventBus"
    }


def _check_parameter_names(template: dict[str, Any], parameters: Mapping[str, str] | None) -> None:
    unknown = set(parameters or {}) - set(template.get("Parameters", {}))
    if unknown:
        raise ValueError(f"unknown template parameters: {', '.join(sorted(unknown))}")


def parameter_values(
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


def references(node: Any) -> set[str]:
    """The names a template fragment refers to through Ref, Fn::GetAtt, Fn::Sub, DependsOn."""
    if isinstance(node, list):
        return set().union(*(references(item) for item in node))
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
            names |= references(value[1:] if isinstance(value, list) else [])
        elif key == "DependsOn":
            names |= {value} if isinstance(value, str) else set(value)
        else:
            names |= references(value)
    return names


def resolve(node: Any, refs: Mapping[str, str], mappings: Mapping[str, Any]) -> Any:
    """Replace Ref, Fn::Sub and Fn::FindInMap by their values; refuse other functions."""
    if isinstance(node, list):
        return [resolve(item, refs, mappings) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, value),) = node.items()
        if key == "Ref":
            return _lookup(refs, value)
        if key == "Fn::Sub" and isinstance(value, str):
            return _SUB_NAME.sub(lambda match: _lookup(refs, match.group(1)), value)
        if key == "Fn::FindInMap":
            mapping, first, second = resolve(value, refs, mappings)
            return mappings[mapping][first][second]
        if key.startswith("Fn::"):
            raise ValueError(f"{key} is not resolved locally: {node}")
    return {key: resolve(value, refs, mappings) for key, value in node.items()}


def _lookup(refs: Mapping[str, str], name: str) -> str:
    if name not in refs:
        raise ValueError(f"cannot resolve {name} locally: not a parameter nor a created resource")
    return refs[name]
