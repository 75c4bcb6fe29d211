"""Metrics a job defines, read from a file (`--metric-file`): YAML or JSON, a list of
definitions or a mapping with `custom_metrics:`, checked as the API checks them."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rag_eval.domain.errors import RequestInvalid, validation_problems
from rag_eval.domain.request import ScoreOptions
from rag_eval.metrics import DEFAULT_METRICS

FLAG = "--metric-file"
_BOOL = "tag:yaml.org,2002:bool"
_SHAPES = {"str": "text", "int": "a number", "float": "a number", "bool": "true or false"}


def load_metric_file(path: Path) -> list[dict[str, Any]]:
    """The definitions of the file as the API's `custom_metrics` takes them. Raises
    RequestInvalid: for a file that cannot be read as definitions, naming --metric-file; for
    an invalid definition, with the API's own problems (`custom_metrics[0].instructions`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _about_file(f"no such file: {path}") from None
    except IsADirectoryError:
        raise _about_file(f"{path} is a folder, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _about_file(f"cannot read {path}: {exc}") from None
    definitions = _definitions(path, _parsed(path, text))
    return check_definitions(definitions)


def check_definitions(definitions: list[Any]) -> list[dict[str, Any]]:
    """The definitions, validated as a submission's `custom_metrics` (the API's problems,
    before anything is sent or scored), each as the API reads it."""
    names = [d.get("name") for d in definitions if isinstance(d, dict)]
    requested = list(dict.fromkeys(name for name in names if isinstance(name, str)))
    try:
        options = ScoreOptions.model_validate(
            {"custom_metrics": definitions, "metrics": requested or list(DEFAULT_METRICS)}
        )
    except ValidationError as exc:
        problems = validation_problems(exc)
        ours = [problem for problem in problems if problem["field"].startswith("custom_metrics")]
        raise RequestInvalid(ours or problems) from None
    return [
        metric.model_dump(mode="json", exclude_defaults=True) for metric in options.custom_metrics
    ]


def _parsed(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise _about_file(f"{path} is not valid JSON ({exc})") from None
    import yaml

    try:
        return yaml.load(text, Loader=_yaml12_loader())  # a SafeLoader
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise _about_file(f"{path} is not valid YAML ({problem}{at})") from None


def _definitions(path: Path, data: Any) -> list[Any]:
    """The list of definitions the file holds."""
    if isinstance(data, dict) and "custom_metrics" in data:
        others = [str(key) for key in data if key != "custom_metrics"]
        if others:
            raise _about_file(
                f"{path} holds {', '.join(others)} besides custom_metrics; only the metrics' "
                "definitions go in it (choose metrics and weights with --metrics and --weight)"
            )
        data = data["custom_metrics"]
    elif isinstance(data, dict):
        raise _about_file(
            f"{path} holds a mapping without custom_metrics: write a list of definitions "
            "(`- name: ...`), or put them under `custom_metrics:`"
        )
    if not isinstance(data, list):
        shape = "nothing" if data is None else _SHAPES.get(type(data).__name__, "a value")
        raise _about_file(
            f"{path} holds {shape}, not metric definitions: write a list of them "
            "(`- name: ...`), or put them under `custom_metrics:`"
        )
    if not data:
        raise _about_file(f"{path} defines no metric")
    return data


def _about_file(message: str) -> RequestInvalid:
    return RequestInvalid([{"field": FLAG, "message": message}])


@cache
def _yaml12_loader() -> Any:
    """A safe YAML loader whose booleans are YAML 1.2's, `true` and `false`: `yes`, `no`,
    `on` and `off` stay text, as the answers of a discrete metric often are."""
    import yaml

    loader: Any = type("Yaml12Loader", (yaml.SafeLoader,), {})
    loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    loader.add_implicit_resolver(
        _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    return loader
