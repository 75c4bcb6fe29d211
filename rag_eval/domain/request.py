"""What a client submits: samples to score and how (docs/ARCHITECTURE.md, "API")."""

from __future__ import annotations

import math
from difflib import get_close_matches
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rag_eval.domain.errors import RequestInvalid, validation_problems
from rag_eval.domain.json_types import JSON_NUMBER, JsonFloat
from rag_eval.domain.request_summary import request_summary
from rag_eval.domain.sample import Sample
from rag_eval.domain.segments import metadata_problems
from rag_eval.domain.suites import RunContext
from rag_eval.domain.turns import CONVERSATION_METRICS, check_metric_kinds, job_kind
from rag_eval.domain.upload import DatasetRef
from rag_eval.metrics import DEFAULT_METRICS, REGISTRY
from rag_eval.metrics.custom import CUSTOM_NAME_PATTERN, MAX_CUSTOM_METRICS, CustomMetric
from rag_eval.metrics.spec import MetricSpec

# Input limits (with the sample's, rag_eval/domain/sample.py): documented in the README.
MAX_SAMPLES = 1_000
MAX_MODEL_NAME_CHARS = 200
MIN_JURORS, MAX_JURORS = 2, 5

# The judge-verdict cache per request (rag_eval/domain/verdicts.py): "use" answers a request
# asked before from the cache and keeps new answers; "refresh" asks the judge again and
# keeps its answers; "off" neither reads nor writes.
CacheMode = Literal["use", "refresh", "off"]

ModelName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=MAX_MODEL_NAME_CHARS,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+\-]*$",
    ),
]


class ScoreOptions(RunContext):
    """How to score, whatever the samples' source: metrics, weights, judge and embeddings
    (extra fields forbidden, as in `RunContext`)."""

    # Metrics the job defines itself (rag_eval/metrics/custom.py), listed in `metrics` by name.
    custom_metrics: list[CustomMetric] = Field(default_factory=list, max_length=MAX_CUSTOM_METRICS)
    metrics: list[str] = Field(
        default_factory=lambda: list(DEFAULT_METRICS),
        min_length=1,
        json_schema_extra={
            "items": {
                "description": "a built-in metric (GET /metrics) or a name of custom_metrics",
                "anyOf": [
                    {"type": "string", "enum": list(REGISTRY)},
                    {"type": "string", "pattern": CUSTOM_NAME_PATTERN},
                ],
            }
        },
    )
    weights: dict[str, JsonFloat] = Field(
        default_factory=dict,
        json_schema_extra={
            "additionalProperties": {"type": "number", "minimum": 0},
            "description": "metric -> weight in the weighted score (default 1 each); "
            "only requested metrics",
        },
    )
    judge_model: ModelName | None = None
    # A jury (rag_eval/scoring/jury.py): every judged metric scored by each of these
    # models, in place of judge_model.
    judges: list[ModelName] | None = Field(
        default=None,
        min_length=MIN_JURORS,
        max_length=MAX_JURORS,
        description="a jury of two to five judge models (any provider), in place of "
        "judge_model: every judged metric is scored by each, which multiplies its judge "
        "calls and cost by their number",
    )
    embedding_model: ModelName | None = None
    cache: CacheMode = "use"
    # The job's budget: once either is reached no new judge call starts, and the pairs not
    # scored yet are left with reason budget_exhausted (cache hits are free).
    # At least a hundredth of a cent: DynamoDB keeps no number below 1e-130.
    max_cost_usd: (
        Annotated[float, Field(ge=0.0001, le=1_000_000, allow_inf_nan=False), JSON_NUMBER] | None
    ) = None
    max_judge_calls: Annotated[int, Field(ge=1, le=100_000_000), JSON_NUMBER] | None = None
    # An estimate instead of a job (200, nothing created). Not part of the job's options.
    dry_run: bool = Field(default=False, exclude=True, strict=True)

    @field_validator("custom_metrics")
    @classmethod
    def _unique_names(cls, value: list[CustomMetric]) -> list[CustomMetric]:
        names = [metric.name for metric in value]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ValueError(f"[{index}].name: '{name}' is defined twice; names must differ")
        return value

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if "custom_metrics" not in info.data:
            return value  # the definitions were invalid and are reported already
        known = [*REGISTRY, *(m.name for m in info.data["custom_metrics"])]
        unknown = [m for m in value if m not in known]
        if unknown:
            raise ValueError(
                f"unknown metric(s): {', '.join(unknown)}{did_you_mean(unknown, known)}"
            )
        unused = [m.name for m in info.data["custom_metrics"] if m.name not in value]
        if unused:
            raise ValueError(
                f"{', '.join(unused)} defined in custom_metrics but not requested: add "
                "it to metrics, or leave its definition out"
            )
        return list(dict.fromkeys(value))  # drop duplicates, keep order

    @field_validator("weights")
    @classmethod
    def _weights_match_metrics(
        cls, value: dict[str, float], info: ValidationInfo
    ) -> dict[str, float]:
        if "metrics" not in info.data:
            return value  # the metrics were invalid and are reported already
        metrics = info.data["metrics"]
        for name, weight in value.items():
            if name not in metrics:
                raise ValueError(
                    f"'{name}' is not among the requested metrics; allowed: {', '.join(metrics)}"
                )
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(f"'{name}' must be a finite number >= 0, got {weight}")
        if value and not any(value.values()):
            raise ValueError("at least one weight must be greater than 0")
        return value

    @field_validator("judges")
    @classmethod
    def _distinct_judges(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            twice = sorted({name for name in value if value.count(name) > 1})
            raise ValueError(f"{', '.join(twice)} named twice: each juror is another model")
        return value

    @model_validator(mode="after")
    def _one_way_to_judge(self) -> ScoreOptions:
        if self.judges is not None and self.judge_model is not None:
            raise ValueError(
                "judges: give a jury (judges) or one judge (judge_model), not both; add "
                "judge_model's model to judges to keep it on the jury"
            )
        return self

    def metric_specs(self) -> list[MetricSpec]:
        defined = {metric.name: metric for metric in self.custom_metrics}
        return [
            REGISTRY[name] if name in REGISTRY else defined[name].spec() for name in self.metrics
        ]

    def needs_judge(self) -> bool:
        return any(spec.needs_judge for spec in self.metric_specs())

    def needs_embeddings(self) -> bool:
        return any(spec.needs_embeddings for spec in self.metric_specs())

    def options(self) -> ScoreOptions:
        """These options alone (what every shard of a job is scored with)."""
        return ScoreOptions.model_validate(self.model_dump(include=set(ScoreOptions.model_fields)))

    def summary(self, judge_model: str, embedding_model: str) -> dict[str, Any]:
        """The request_summary before any sample is known (a dataset not yet read)."""
        return request_summary(self, judge_model, embedding_model, None, set(), 0)


class DatasetJob(ScoreOptions):
    """A job over an uploaded dataset: the worker reads and validates it (planning)."""

    dataset: DatasetRef
    # "fail": any invalid row fails the job before a judge call; "skip": leave such rows
    # out and report them.
    on_invalid: Literal["fail", "skip"] = "fail"


class ScoreRequest(ScoreOptions):
    """What a client submits inline: one sample, or `samples: [...]`."""

    samples: list[Sample] = Field(min_length=1, max_length=MAX_SAMPLES)

    @model_validator(mode="before")
    @classmethod
    def _single_sample_form(cls, data: Any) -> Any:
        """Accept the single-sample body by wrapping it as `samples: [it]`."""
        if not isinstance(data, dict):
            return data
        inline = [k for k in ("sample_id", *Sample.model_fields) if k in data and k != "sample_id"]
        if not inline and "sample_id" not in data:
            return data
        if "samples" in data:
            raise ValueError(
                "give either one sample inline (question, answer, contexts, ground_truth) "
                f"or 'samples', not both (found inline field(s): {', '.join(inline)})"
            )
        sample_keys = set(Sample.model_fields)
        if isinstance(data.get("user_input"), list):
            sample_keys.add("reference")  # a conversation's, by ragas' name
        rest = {k: v for k, v in data.items() if k not in sample_keys}
        rest["samples"] = [{k: v for k, v in data.items() if k in sample_keys}]
        return rest

    @field_validator("samples")
    @classmethod
    def _unique_sample_ids(cls, value: list[Sample]) -> list[Sample]:
        ids = [s.sample_id for s in value if s.sample_id]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"sample_id values must be unique; repeated: {', '.join(duplicates)}")
        return value

    @model_validator(mode="after")
    def _custom_inputs_present(self) -> ScoreRequest:
        """A job's own metric whose instructions name an input no sample carries could
        score nothing: said at submission, where it can be fixed."""
        for index, metric in enumerate(self.custom_metrics):
            lacking = [n for n in metric.inputs if not any(s.has(n) for s in self.samples)]
            if lacking:
                raise ValueError(
                    f"custom_metrics[{index}].instructions: uses "
                    + ", ".join("{" + name + "}" for name in lacking)
                    + ", which no sample carries; add it to the samples or leave it out of "
                    "the instructions"
                )
        return self

    def effective_metrics(self) -> list[str]:
        """Requested metrics that at least one sample has every input for (the others are
        skipped, with the inputs they lack)."""
        return [
            spec.name
            for spec in self.metric_specs()
            if any(not sample.missing_inputs(spec.inputs) for sample in self.samples)
        ]

    def skipped_metrics(self) -> dict[str, str]:
        """Metrics no sample can feed, each with the reason."""
        skipped: dict[str, str] = {}
        for spec in self.metric_specs():
            if spec.name in self.effective_metrics():
                continue
            missing = sorted({m for s in self.samples for m in s.missing_inputs(spec.inputs)})
            skipped[spec.name] = f"missing input: {', '.join(missing)}"
        return skipped

    def summary(self, judge_model: str, embedding_model: str) -> dict[str, Any]:
        present = {
            name for name in ("contexts", "ground_truth") if any(s.has(name) for s in self.samples)
        }
        return request_summary(
            self, judge_model, embedding_model, self.samples[0], present, len(self.samples)
        )


_REQUEST_FIELDS = (*Sample.model_fields, *(f for f in ScoreRequest.model_fields if f != "samples"))
_SAMPLE_FIELDS = tuple(Sample.model_fields)


# The names other tools give our sample fields (ragas, Hugging Face datasets).
FIELD_SYNONYMS = MappingProxyType(
    {
        "user_input": "question",
        "response": "answer",
        "retrieved_contexts": "contexts",
        "reference": "ground_truth",
        "id": "sample_id",
    }
)


def did_you_mean(names: list[str], known: Any) -> str:
    """` (did you mean x?)` for names that look like known ones, else ``."""
    known = list(known)
    guesses = []
    for name in names:
        guess = FIELD_SYNONYMS.get(name) if FIELD_SYNONYMS.get(name) in known else None
        prefixed = [k for k in known if k.startswith(name) or name.startswith(k)]
        close = prefixed or get_close_matches(name, known, n=1, cutoff=0.6)
        guess = guess or (close[0] if close else None)
        if guess:
            guesses.append(f"{guess}" if len(names) == 1 else f"{guess} for {name}")
    return f" (did you mean {', '.join(guesses)}?)" if guesses else ""


def parse_request(body: Any) -> ScoreRequest | DatasetJob:
    """Validate a submitted body; errors name fields as the client wrote them."""
    if not isinstance(body, dict):
        raise RequestInvalid(
            [{"field": "body", "message": "must be a JSON object", "allowed": "object"}]
        )
    if "dataset" in body:
        return _parse_dataset_job(body)
    return parse_inline_request(body)


def parse_inline_request(body: dict[str, Any]) -> ScoreRequest:
    """Validate a body of inline samples (one sample, or a 'samples' list) as
    `parse_request` does."""
    conversation = isinstance(body.get("user_input"), list)
    if "samples" not in body and "question" not in body and not conversation:
        others = [name for name in body if FIELD_SYNONYMS.get(name) == "question"]
        raise RequestInvalid(
            [
                {
                    "field": "question",
                    "message": "required: give one sample inline, or a 'samples' list"
                    + (
                        f" ({others[0]} is not a field here: did you mean question?)"
                        if others
                        else ""
                    ),
                    "allowed": list(Sample.model_fields),
                }
            ]
        )
    try:
        request = ScoreRequest.model_validate(body)
    except ValidationError as exc:
        problems = validation_problems(exc)
        for problem in problems:
            if "samples" not in body:  # single-sample form: no samples[0] in the client's view
                problem["field"] = problem["field"].removeprefix("samples[0].")
            if problem["field"] == "metrics" and problem["message"].startswith("unknown metric"):
                problem["allowed"] = list(REGISTRY)
            if problem["message"] == "unknown field":
                in_list = problem["field"].startswith("samples[")
                known = _SAMPLE_FIELDS if in_list else ("samples", *_REQUEST_FIELDS)
                name = problem["field"].rsplit(".", 1)[-1]
                problem["message"] += did_you_mean([name], known)
                problem["allowed"] = list(known)
            if problem["field"] == "samples" and "at most" in problem.get("allowed", ""):
                problem["message"] = (
                    f"{len(body['samples'])} samples; at most {MAX_SAMPLES} are allowed inline: "
                    "upload them as a dataset (POST /uploads, then 'dataset': {'upload_id': ...}; "
                    "rag-eval submit --file does it for you)"
                )
        raise RequestInvalid(problems) from exc
    if problems := metadata_problems(request.samples, listed="samples" in body):
        raise RequestInvalid(problems)
    # One kind of sample a job, and metrics of that kind (a conversation's by default).
    kind = job_kind(request.samples, listed="samples" in body)
    if kind == "multi" and "metrics" not in request.model_fields_set:
        request = request.model_copy(update={"metrics": list(CONVERSATION_METRICS)})
    check_metric_kinds(request.metric_specs(), kind)
    return request


def _parse_dataset_job(body: dict[str, Any]) -> DatasetJob:
    inline = [name for name in ("samples", *Sample.model_fields) if name in body]
    if inline:
        raise RequestInvalid(
            [
                {
                    "field": inline[0],
                    "message": "give either a dataset or inline samples, not both",
                }
            ]
        )
    try:
        return DatasetJob.model_validate(body)
    except ValidationError as exc:
        problems = validation_problems(exc)
        for problem in problems:
            if problem["field"] == "dataset.upload_id":
                problem["message"] = "not an upload id: use the upload_id POST /uploads answered"
            if problem["message"] == "unknown field":
                name = problem["field"].rsplit(".", 1)[-1]
                known = (
                    DatasetRef.model_fields
                    if problem["field"].startswith("dataset.")
                    else DatasetJob.model_fields
                )
                problem["message"] += did_you_mean([name], known)
                problem["allowed"] = list(known)
        raise RequestInvalid(problems) from exc
