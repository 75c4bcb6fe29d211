"""Metrics a job defines: a name, instructions for the judge and a scale, scored by ragas'
own classes (`DiscreteMetric`, `NumericMetric`, `DomainSpecificRubrics`), so the numbers
are ragas'.

Light: the API validates definitions with it; ragas is imported only to score.
"""

from __future__ import annotations

import hashlib
import json
import math
import string
from types import MappingProxyType
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from rag_eval.metrics import REGISTRY
from rag_eval.metrics.spec import JudgeLoad, MetricGuide, MetricSpec, Reading, Scale

# Bedrock's limits for its custom metrics, at least: a name of 63 characters, instructions
# of 5,000, ten metrics a job.
MAX_CUSTOM_METRICS = 10
MAX_NAME_CHARS = 63
MAX_INSTRUCTIONS_CHARS = 5_000
MAX_VALUES = 20
MAX_LABEL_CHARS = 50
MAX_DESCRIPTION_CHARS = 1_000

# The sample fields instructions may name, and what the judge is shown for each.
PLACEHOLDERS = ("question", "answer", "contexts", "ground_truth")
# For a rubric metric the judge reads the inputs as ragas' fields, by these names.
RUBRIC_FIELDS = MappingProxyType(
    {
        "question": "user_input",
        "answer": "response",
        "contexts": "retrieved_contexts",
        "ground_truth": "reference",
    }
)
# Names a metric may not take: the built-in metrics', and the columns of scores.csv.
RESERVED_NAMES = frozenset(
    {*REGISTRY, *PLACEHOLDERS, "sample_id", "rubrics", "error", "why", "weighted_score"}
)
RUBRIC_SCORES = ("1", "2", "3", "4", "5")
Kind = Literal["discrete", "numeric", "rubric"]
KINDS: tuple[str, ...] = get_args(Kind)

CUSTOM_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
MetricName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=MAX_NAME_CHARS,
        pattern=CUSTOM_NAME_PATTERN,
    ),
]
Label = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LABEL_CHARS)
]
Description = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_DESCRIPTION_CHARS)
]


def placeholders(instructions: str) -> list[str]:
    """The placeholders the instructions use, in order, each once; ValueError naming the
    first that is not allowed."""
    try:
        parsed = list(string.Formatter().parse(instructions))
    except ValueError as exc:
        raise ValueError(f"instructions: {exc}; write {{{{ and }}}} for a literal brace") from None
    used: list[str] = []
    for _, field_name, spec, conversion in parsed:
        if field_name is None:
            continue
        if field_name not in PLACEHOLDERS or spec or conversion:
            written = "{" + field_name + (f"!{conversion}" if conversion else "")
            written += (f":{spec}" if spec else "") + "}"
            raise ValueError(
                f"instructions: unknown placeholder {written}; allowed: "
                + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                + " (write {{ and }} for a literal brace)"
            )
        if field_name not in used:
            used.append(field_name)
    if not used:
        raise ValueError(
            "instructions: name at least one input for the judge to read, e.g. {answer}; "
            "allowed: " + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        )
    return used


class CustomMetric(BaseModel):
    """One metric a job defines (`custom_metrics` of a submission)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: MetricName
    instructions: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_INSTRUCTIONS_CHARS),
    ]
    kind: Kind
    # discrete: each allowed answer -> its number in means, e.g. {"yes": 1, "no": 0}
    values: dict[Label, Annotated[float, Field(allow_inf_nan=False)]] | None = Field(
        default=None, max_length=MAX_VALUES
    )
    # numeric: the lowest and highest value the judge may answer
    range: (
        tuple[
            Annotated[float, Field(allow_inf_nan=False)],
            Annotated[float, Field(allow_inf_nan=False)],
        ]
        | None
    ) = None
    # rubric: "1" .. "5" -> what an answer of that score is like
    rubric: dict[Literal["1", "2", "3", "4", "5"], Description] | None = None
    description: Annotated[str, StringConstraints(max_length=300)] = ""

    @model_validator(mode="after")
    def _consistent(self) -> CustomMetric:
        if self.name in RESERVED_NAMES:
            raise ValueError(
                f"name: '{self.name}' is reserved (a built-in metric or a column of scores.csv); "
                "choose another"
            )
        placeholders(self.instructions)
        given = {"values": self.values, "range": self.range, "rubric": self.rubric}
        wanted = {"discrete": "values", "numeric": "range", "rubric": "rubric"}[self.kind]
        stray = [name for name, value in given.items() if value is not None and name != wanted]
        if stray:
            raise ValueError(f"{stray[0]}: not for a {self.kind} metric, which takes '{wanted}'")
        if self.kind == "discrete" and len(self.values or {}) < 2:
            raise ValueError(
                "values: give at least two allowed answers, each with its number, "
                'e.g. {"yes": 1, "no": 0}'
            )
        if self.kind == "numeric":
            if self.range is None:
                raise ValueError("range: required for a numeric metric, e.g. [0, 10]")
            if not self.range[0] < self.range[1]:
                raise ValueError(
                    f"range: the low end must be below the high, got {list(self.range)}"
                )
        if self.kind == "rubric" and set(self.rubric or {}) != set(RUBRIC_SCORES):
            missing = [s for s in RUBRIC_SCORES if s not in (self.rubric or {})]
            raise ValueError(
                f"rubric: describe every score from 1 to 5; missing: {', '.join(missing)}"
            )
        return self

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(placeholders(self.instructions))

    @property
    def fingerprint(self) -> str:
        """A digest of the definition: an edit of any part is another metric."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]

    @property
    def scale(self) -> Scale:
        if self.kind == "discrete":
            numbers = list((self.values or {}).values())
            return Scale(min(numbers), max(numbers))
        if self.kind == "numeric":
            assert self.range is not None
            return Scale(*self.range)
        return Scale(1.0, 5.0)

    def spec(self) -> MetricSpec:
        return MetricSpec(
            self.name,
            {"discrete": "DiscreteMetric", "numeric": "NumericMetric"}.get(
                self.kind, "DomainSpecificRubrics"
            ),
            self.inputs,
            needs_judge=True,
            needs_embeddings=False,
            description=self.description or f"Your own {self.kind} metric.",
            guide=MetricGuide(
                "generator",
                f"Answers fall short of {self.name}",
                f"{self.name} is this job's own metric: the judge follows its instructions "
                "and gives its reason for each answer (explanations.jsonl).",
                f"answers meet {self.name}",
            ),
            chain=1,
            # One request: the instructions (and rubric) as written, ragas' prompt around
            # them, and the sample's texts (bench/estimate.py --fit, one metric of each kind).
            load=JudgeLoad(
                calls=1,
                prompt_tokens=(
                    len(self.instructions) + sum(len(text) for text in (self.rubric or {}).values())
                )
                / 4
                + {"discrete": 165, "numeric": 125, "rubric": 716}[self.kind],
                text_weight={"discrete": 1.02, "numeric": 1.0, "rubric": 1.0}[self.kind],
                output_tokens={"discrete": 35, "numeric": 34, "rubric": 26}[self.kind],
            ),
            scale=self.scale,
            definition=MappingProxyType(self.model_dump(mode="json")),
            fingerprint=self.fingerprint,
            builder=self._build,
            reader=self._read,
        )

    def _build(self, llm: Any) -> _JobMetric:
        return _JobMetric(self, llm)

    def _read(self, result: Any) -> Reading:
        reason = str(getattr(result, "reason", "") or "") or None
        value = result.value
        if self.kind == "discrete":
            number = (self.values or {}).get(str(value))
            if number is None:
                return Reading(None, problem=f"the judge answered {value!r}, not one of the values")
            return Reading(number, category=str(value), reason=reason)
        try:
            number = float(value)
        except (TypeError, ValueError):
            return Reading(None, problem=f"the judge answered {value!r}, not a number")
        scale = self.scale
        if math.isnan(number) or not scale.low <= number <= scale.high:
            return Reading(
                None, problem=f"the judge answered {value!r}, outside {scale.low:g}..{scale.high:g}"
            )
        return Reading(number, reason=reason)


def render_contexts(contexts: list[str]) -> str:
    """The contexts as the judge reads them in a job's own metric: numbered from 1, so
    instructions can speak of "context 2"."""
    return "\n\n".join(f"[{index}] {text}" for index, text in enumerate(contexts, start=1))


class _JobMetric:
    """A job's metric as the scorer calls any metric: `await metric.ascore(**inputs)`."""

    def __init__(self, definition: CustomMetric, llm: Any) -> None:
        self._definition = definition
        self._llm = llm
        self._metric = ragas_metric(definition, llm)

    async def ascore(self, **inputs: Any) -> Any:
        if self._definition.kind == "rubric":
            arguments = {RUBRIC_FIELDS[name]: value for name, value in inputs.items()}
            return await self._metric.ascore(**arguments)
        texts = {
            name: render_contexts(value) if name == "contexts" else value
            for name, value in inputs.items()
        }
        return await self._metric.ascore(llm=self._llm, **texts)


def ragas_metric(definition: CustomMetric, llm: Any) -> Any:
    """ragas' class for the definition, as a caller of ragas would build it."""
    if definition.kind == "discrete":
        from ragas.metrics import DiscreteMetric

        return DiscreteMetric(
            name=definition.name,
            prompt=definition.instructions,
            allowed_values=list(definition.values or {}),
        )
    if definition.kind == "numeric":
        from ragas.metrics import NumericMetric

        assert definition.range is not None
        return NumericMetric(
            name=definition.name, prompt=definition.instructions, allowed_values=definition.range
        )
    from ragas.metrics.collections import DomainSpecificRubrics

    rubric = {
        f"score{score}_description": text for score, text in (definition.rubric or {}).items()
    }
    metric = DomainSpecificRubrics(
        llm=llm,
        rubrics=dict(sorted(rubric.items())),
        with_reference="ground_truth" in definition.inputs,
        name=definition.name,
    )
    # The team's criteria lead ragas' rubric instruction; its placeholders name the
    # fields the judge reads.
    criteria = definition.instructions.format(
        **{name: f"the {field}" for name, field in RUBRIC_FIELDS.items()}
    )
    metric.scoring_prompt.instruction = f"{criteria}\n\n{metric.scoring_prompt.instruction}"
    return metric
