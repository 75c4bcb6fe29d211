"""People's labels of a job's run: what a request may hold (POST /score-jobs/{job_id}/labels),
what is stored and answered, and how a label is checked against the run it labels.

A label is a value on the metric's own scale, given by a person (`labeler`) to one sample
of the job's run on one of the job's metrics: a number within the metric's `Scale`, or for
a discrete metric the job defined, one of its categories by name (stored with its number).
`rag_eval.scoring.judge_trust` sets them against the judge's scores.

Light (the API's cold start): pydantic, the metric registry and the domain's errors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    RootModel,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)

from rag_eval.domain.errors import RequestInvalid, validation_problems
from rag_eval.metrics import REGISTRY
from rag_eval.metrics.spec import UNIT, Scale

MAX_LABELS_PER_REQUEST = 1_000
MAX_NOTE_CHARS = 1_000
MAX_LABELER_CHARS = 100
MAX_SAMPLE_ID_CHARS = 128  # as a sample's own (rag_eval/domain/sample.py)
MAX_METRIC_CHARS = 100
MAX_CATEGORY_CHARS = 64  # a discrete metric's categories have at most 50
# A 422 lists this many problems at most: enough to fix a file in a few rounds.
MAX_PROBLEMS = 100
# A name a team knows its raters by (an e-mail address will do); ASCII, so that every
# client's regular expressions read it alike, words separated by one space.
LABELER_PATTERN = r"^$|^[A-Za-z0-9._@+-]+( [A-Za-z0-9._@+-]+)*$"
LABELER_RULE = (
    f"up to {MAX_LABELER_CHARS} letters (A-Z, a-z), digits and . _ @ + -, words separated "
    'by one space; "" (the default) for an unnamed labeler'
)


def _label_value(value: Any) -> float | str:
    """A JSON number (finite) or a text of 1..MAX_CATEGORY_CHARS characters; which one the
    metric takes is checked against the run (`LabelTarget.read`)."""
    if isinstance(value, str):
        if not 0 < len(value) <= MAX_CATEGORY_CHARS:
            raise ValueError(
                f"a text of {len(value)} characters; a category's name has 1..{MAX_CATEGORY_CHARS}"
            )
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer too large for a float
            number = math.inf
        if math.isfinite(number):
            return number
    raise ValueError("must be a finite number on the metric's scale, or a category's name")


LabelValue = Annotated[
    float | str,
    PlainValidator(_label_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number"},
                {"type": "string", "minLength": 1, "maxLength": MAX_CATEGORY_CHARS},
            ],
            "description": "a number on the metric's scale; for a discrete metric the job "
            "defined, one of its categories by name. Text that reads as a number (as a CSV "
            "cell gives it) is that number for any other metric.",
        }
    ),
]


class LabelIn(BaseModel):
    """One label as a request gives it."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    sample_id: str = Field(min_length=1, max_length=MAX_SAMPLE_ID_CHARS)
    metric: str = Field(min_length=1, max_length=MAX_METRIC_CHARS)
    value: LabelValue
    labeler: Annotated[
        str, StringConstraints(max_length=MAX_LABELER_CHARS, pattern=LABELER_PATTERN)
    ] = Field(default="", description=LABELER_RULE)
    note: str = Field(default="", max_length=MAX_NOTE_CHARS, description="why, for the record")


class LabelBatch(BaseModel):
    """POST /score-jobs/{job_id}/labels: up to 1,000 labels."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    labels: list[LabelIn] = Field(min_length=1, max_length=MAX_LABELS_PER_REQUEST)


class LabelList(RootModel[list[LabelIn]]):
    """The same labels as a bare JSON list."""

    model_config = ConfigDict(defer_build=True)

    root: list[LabelIn] = Field(min_length=1, max_length=MAX_LABELS_PER_REQUEST)


class HumanLabel(BaseModel):
    """One labeler's label of one sample on one metric, as stored and answered."""

    model_config = ConfigDict(defer_build=True)

    sample_id: str
    metric: str
    value: float = Field(
        description="on the metric's own scale; for a discrete metric, its category's number"
    )
    category: str | None = Field(default=None, description="a discrete metric's category")
    labeler: str = ""
    note: str = ""
    labeled_at: str = Field(description="when it was stored (a repeat replaces it)")


@dataclass(frozen=True)
class LabelTarget:
    """A metric of the run as a label must fit it: its scale, and for a discrete metric the
    job defined, its categories and their numbers."""

    scale: Scale = UNIT
    categories: Mapping[str, float] | None = None

    def read(self, value: float | str) -> tuple[float, str | None]:
        """The label's number and category; ValueError(message, allowed) when it does not fit."""
        if self.categories is not None:
            names = list(self.categories)
            if isinstance(value, str) and value in self.categories:
                return self.categories[value], value
            if isinstance(value, str):
                raise ValueError(f"{value!r} is not one of the metric's categories", names)
            raise ValueError("this metric is labelled with one of its categories, by name", names)
        scale = self.scale
        allowed = f"a number in {scale.low:g}..{scale.high:g} (the metric's scale)"
        number = _number(value)
        if number is None:
            raise ValueError(f"{value!r} is not a number", allowed)
        if not scale.low <= number <= scale.high:
            raise ValueError(f"{number:g} is outside the metric's scale", allowed)
        return number, None


_DECIMAL = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*")


def _number(value: float | str) -> float | None:
    if isinstance(value, float):
        return value
    number = float(value) if _DECIMAL.fullmatch(value) else math.nan
    return number if math.isfinite(number) else None


def label_targets(metadata: Mapping[str, Any]) -> dict[str, LabelTarget]:
    """The run's metrics as its metadata.json describes them (a metric without a `scale` is
    a built-in one's, else 0..1), each with its categories when it has them."""
    targets = {}
    for metric, entry in (metadata.get("metrics") or {}).items():
        entry = entry if isinstance(entry, dict) else {}
        given = entry.get("scale")
        if isinstance(given, dict):
            scale = Scale(
                float(given["low"]), float(given["high"]), bool(given["higher_is_better"])
            )
        else:
            scale = REGISTRY[metric].scale if metric in REGISTRY else UNIT
        definition = entry.get("definition")
        values = definition.get("values") if isinstance(definition, dict) else None
        categories = None
        if isinstance(definition, dict) and definition.get("kind") == "discrete" and values:
            categories = {str(name): float(number) for name, number in values.items()}
        targets[str(metric)] = LabelTarget(scale, categories)
    return targets


def parse_labels(body: Any) -> LabelBatch:
    """A request's labels, `{"labels": [...]}` or the bare list; RequestInvalid naming each
    field (`labels[2].value`), why, and what is allowed."""
    if isinstance(body, list):
        body = {"labels": body}
    if not isinstance(body, dict):
        raise RequestInvalid(
            [
                {
                    "field": "body",
                    "message": "send a JSON object with `labels`, or the list of labels",
                    "allowed": '{"labels": [{"sample_id", "metric", "value", "labeler", "note"}]}',
                }
            ]
        )
    try:
        return LabelBatch.model_validate(body)
    except ValidationError as exc:
        problems = validation_problems(exc)
    for problem in problems:
        field = problem["field"]
        if problem["message"] == "unknown field":
            top = "." not in field and "[" not in field
            problem["allowed"] = list(LabelBatch.model_fields if top else LabelIn.model_fields)
        elif field.endswith(".labeler") and "pattern" in problem["message"]:
            problem["message"] = "not a labeler's name"
            problem["allowed"] = LABELER_RULE
    raise RequestInvalid(_bounded(problems))


def checked_labels(
    batch: LabelBatch,
    samples: Container[str],
    targets: Mapping[str, LabelTarget],
    labeled_at: str,
) -> list[HumanLabel]:
    """The batch as stored labels, each checked against the run: its sample is one of the
    run's, its metric one of the job's, its value on that metric's scale (or one of its
    categories), each (sample, metric, labeler) once. RequestInvalid naming every problem."""
    problems: list[dict[str, Any]] = []
    labels: list[HumanLabel] = []
    first: dict[tuple[str, str, str], int] = {}
    for index, item in enumerate(batch.labels):
        where = f"labels[{index}]"
        count = len(problems)
        if item.sample_id not in samples:
            problems.append(
                {"field": f"{where}.sample_id", "message": "no sample of this job's run has it"}
            )
        target = targets.get(item.metric)
        number, category = 0.0, None
        if target is None:
            problems.append(
                {
                    "field": f"{where}.metric",
                    "message": f"{item.metric!r} is not a metric of this job",
                    "allowed": sorted(targets),
                }
            )
        else:
            try:
                number, category = target.read(item.value)
            except ValueError as exc:
                message, allowed = exc.args
                problems.append({"field": f"{where}.value", "message": message, "allowed": allowed})
        triple = (item.sample_id, item.metric, item.labeler)
        if triple in first:
            problems.append(
                {
                    "field": where,
                    "message": f"the same sample_id, metric and labeler as labels[{first[triple]}]"
                    ": give each label once (a later request replaces it)",
                }
            )
        first.setdefault(triple, index)
        if len(problems) == count:
            labels.append(
                HumanLabel(
                    sample_id=item.sample_id,
                    metric=item.metric,
                    value=number,
                    category=category,
                    labeler=item.labeler,
                    note=item.note,
                    labeled_at=labeled_at,
                )
            )
    if problems:
        raise RequestInvalid(_bounded(problems))
    return labels


def _bounded(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = len(problems) - MAX_PROBLEMS
    more = {"field": "labels", "message": f"{rest} more problem(s) not listed; fix these first"}
    return [*problems[:MAX_PROBLEMS], more]
