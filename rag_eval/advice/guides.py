"""The advisor's vocabulary: score bands, components, how a value reads on its metric's
scale, and what to do when a metric could not score. What each metric means lives with the
metric (`MetricSpec.guide`)."""

from __future__ import annotations

import re

from rag_eval.metrics import overlap
from rag_eval.metrics.spec import UNIT, Scale

# Score bands, on 0..1 with 1 the best (`Scale.normalise`): a 1-5 rubric's 4 is 0.75, a
# noise_sensitivity of 0.1 is 0.9. Values are shown on their own scale (`on_scale`).
POOR_BELOW = 0.5  # most samples fail the metric
WEAK_BELOW = 0.7  # a clear problem; at or above it a metric counts as "good" in combinations
STRONG_AT = 0.85  # listed as a strength
# A metric that the judge failed to score on this share of samples gets a finding: its
# mean rests on the remaining samples only and may be biased.
JUDGE_FAILURE_SHARE = 0.2
EVIDENCE_SAMPLES = 3  # worst samples shown per finding
QUESTION_CHARS = 80  # questions are cut to this length in evidence tables


def band(value: float | None) -> str:
    """The one word for a score (normalised: 1 the best), wherever a score is named:
    verdict, tables, findings."""
    if value is None:
        return "not scored"
    if value < POOR_BELOW:
        return "poor"
    if value < WEAK_BELOW:
        return "weak"
    return "strong" if value >= STRONG_AT else "ok"


def on_scale(value: float | None, scale: Scale = UNIT, digits: int = 2) -> str:
    """A value as its metric gives it, said with its scale where that is not 0..1 higher
    better: "0.82", "4.20 of 5", "0.10 (lower is better)"."""
    if value is None:
        return "—"
    number = f"{value:.{digits}f}"
    if scale == UNIT:
        return number
    if not scale.higher_is_better:
        span = "" if (scale.low, scale.high) == (0.0, 1.0) else f"{scale.low:g}..{scale.high:g}, "
        return f"{number} ({span}lower is better)"
    if scale.low >= 0:
        return f"{number} of {scale.high:g}"
    return f"{number} on {scale.low:g}..{scale.high:g}"


COMPONENT_LABELS: dict[str, str] = {
    "retriever": "retriever (search, chunking, ranking)",
    "generator": "generator (prompt and answer model)",
    "reference data": "reference data (knowledge-base documents, ground-truth answers)",
    "judge": "judge (the scoring model or the metric itself)",
    "agent": "agent (its tool calls, goals and topics in a conversation)",
}

# The overlap metrics measure surface overlap with the reference, with no model.
OVERLAP_METRICS = tuple(spec.name for spec in overlap.SPECS)
# Chinese and Japanese write words without spaces (Korean does use spaces).
NO_SPACE_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")

# What to do when a metric could not score, by reason code (`rag_eval.domain.results.ReasonCode`).
FAILURE_ADVICE: dict[str, str] = {
    "timeout": "raise RAGAS_METRIC_TIMEOUT_SECONDS, or use a faster judge model (long "
    "contexts make the judge slow).",
    "rate_limited": "lower RAGAS_MAX_CONCURRENCY, or raise the provider quota (requests and "
    "tokens per minute).",
    "invalid_judge_output": "use a stronger judge model that follows JSON instructions "
    "reliably (small local models often do not).",
    "judge_error": "check OPENAI_BASE_URL and the credentials (OPENAI_API_KEY, its SSM "
    "parameter, or the Bedrock IAM permissions), and that the judge model exists there.",
    "metric_error": "ragas could not compute the metric on these inputs (e.g. an answer with "
    "no checkable statement); read the error column of scores.csv.",
}
JUDGE_CODES = frozenset(FAILURE_ADVICE) - {"metric_error"}
INPUT_HINTS: dict[str, str] = {
    "question": "the user's `question`",
    "answer": "the generated `answer`",
    "contexts": "the retrieved `contexts` (the chunks passed to the generator)",
    "ground_truth": "a reference answer (`ground_truth`)",
    # A conversation's (ragas' MultiTurnSample names).
    "reference": "the outcome the conversation should reach (`reference`)",
    "reference_tool_calls": "the tool calls the agent should make (`reference_tool_calls`)",
    "reference_topics": "the topics the agent is there for (`reference_topics`)",
}
