"""What a score rests on: the judge's structured answers of one (sample, metric) call, in
the metric's own terms, and a one-line `why` for a low score.

ragas computes faithfulness from statements and their verdicts, context recall from the
reference's sentences attributed or not, context precision from a verdict per context,
answer relevancy from the questions the answer suggests, the correctness metrics from
claims and their classification, entity recall from two lists of entities, noise
sensitivity from verdicts per statement and context, the two-judge metrics from ratings,
the rubric metrics from a score and feedback, the agent's goal from the end state the
judge inferred and its verdict, topic adherence from the topics answered or refused and
in the reference topics or not, and keeps only the number (the rubrics keep the feedback
as the result's reason). The judge's gate records every structured answer of a metric
call (`rag_eval.judges.gate`); the readers of `rag_eval.domain.evidence_readers` read
them back. The tool call metrics ask no judge: their evidence is the calls made beside
those expected, read from the sample (`arguments_evidence`). Nothing here changes a score.

Bounded: at most MAX_ITEMS items a list and MAX_CHARS characters a text; `cut` says when
something was left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rag_eval.domain.evidence_readers import (
    ARGUMENT_READERS,
    MAX_CHARS,
    MAX_ITEMS,
    READERS,
    Bounded,
    Evidence,
    JudgeAnswer,
)

__all__ = [
    "LOW",
    "MAX_CHARS",
    "MAX_ITEMS",
    "Evidence",
    "arguments_evidence",
    "evidence_for",
    "reason_evidence",
    "why",
]

LOW = 0.5  # a score under this gets a `why`
WHY_CHARS = 120  # a reason quoted as the `why`: the start of it


def evidence_for(metric: str, outputs: list[JudgeAnswer]) -> Evidence | None:
    """The evidence of one metric call from the judge's answers; None when the metric has
    no intermediate outputs (embeddings, string overlap) or the judge gave none."""
    reader = READERS.get(metric)
    if reader is None or not outputs:
        return None
    cut = Bounded()
    evidence = reader(outputs, cut)
    if cut.cut:
        evidence["cut"] = True
    return evidence


def arguments_evidence(metric: str, arguments: dict[str, Any]) -> Evidence | None:
    """The evidence of a metric that asks no judge but compares the sample's own values
    (the tool calls made and expected), from its arguments as plain values; None for
    the others."""
    reader = ARGUMENT_READERS.get(metric)
    if reader is None:
        return None
    cut = Bounded()
    evidence = reader(arguments, cut)
    if cut.cut:
        evidence["cut"] = True
    return evidence


def reason_evidence(reason: str, category: str | None = None) -> Evidence:
    """The evidence of a metric whose ragas result carries the judge's reason (a rubric's
    feedback, a job's own metric) or a count of its own: that reason, bounded."""
    cut = Bounded()
    evidence: Evidence = {"reason": cut.text(reason)}
    if category is not None:
        evidence["category"] = category
    if cut.cut:
        evidence["cut"] = True
    return evidence


def _failed(items: list[dict[str, Any]], flag: str, text: str, said: str) -> str:
    """ "2 of 3 <said>, e.g. "<the first that failed>"": the items whose `flag` is false."""
    missing = [item for item in items if not item.get(flag)]
    example = f', e.g. "{missing[0][text][:80]}"' if missing else ""
    return f"{len(missing)} of {len(items)} {said}{example}"


def _short(value: Any) -> str:
    text = str(value or "")
    return text if len(text) <= WHY_CHARS else text[: WHY_CHARS - 1] + "…"


def _faithfulness(evidence: Evidence) -> str:
    return _failed(
        evidence["statements"],
        "supported",
        "statement",
        "statements of the answer are not supported by the contexts",
    )


def _context_recall(evidence: Evidence) -> str:
    return _failed(
        evidence["reference_sentences"],
        "attributed",
        "sentence",
        "reference sentences are not in the retrieved contexts",
    )


def _context_precision(evidence: Evidence) -> str:
    items = evidence["contexts"]
    useful = [i["context"] for i in items if i["useful"]]
    if not useful:
        return f"none of the {len(items)} retrieved contexts is useful for the answer"
    return f"{len(useful)} of {len(items)} contexts are useful, the first at rank {useful[0]}"


def _answer_relevancy(evidence: Evidence) -> str:
    if evidence["noncommittal"]:
        return "the answer is noncommittal (it evades the question)"
    asked = evidence["generated_questions"]
    return f'the answer suggests another question, e.g. "{asked[0][:80]}"' if asked else ""


def _answer_correctness(evidence: Evidence) -> str:
    fp, fn = evidence["false_positives"], evidence["false_negatives"]
    example = (fp or fn or [{"statement": ""}])[0]["statement"][:80]
    return f"{len(fp)} statements not in the reference, {len(fn)} reference statements missing" + (
        f', e.g. "{example}"' if example else ""
    )


def _factual_correctness(evidence: Evidence) -> str:
    return _failed(evidence["verdicts"], "supported", "claim", "claims are not supported")


def _context_entity_recall(evidence: Evidence) -> str:
    wanted, missing = evidence["reference_entities"], evidence["missing"]
    if not wanted:
        return "the judge found no entities in the reference"
    example = f', e.g. "{missing[0][:80]}"' if missing else ""
    return f"{len(missing)} of {len(wanted)} reference entities are not in the contexts{example}"


def _noise(irrelevant: bool) -> Callable[[Evidence], str]:
    """The answer's statements the reference does not support that a relevant context
    does (ragas' relevant mode), or that only irrelevant contexts do (irrelevant mode)."""
    source = "contexts that hold none of the reference" if irrelevant else "a relevant context"

    def misled(statement: dict[str, Any], relevant: set[int]) -> bool:
        contexts = set(statement["contexts"])
        if statement["in_reference"] or not contexts:
            return False
        return not contexts & relevant if irrelevant else bool(contexts & relevant)

    def said(evidence: Evidence) -> str:
        relevant = set(evidence["relevant_contexts"])
        statements = evidence["answer_statements"]
        wrong = [s for s in statements if misled(s, relevant)]
        example = f', e.g. "{wrong[0]["statement"][:80]}"' if wrong else ""
        return (
            f"{len(wrong)} of {len(statements)} statements of the answer are not in the "
            f"reference but taken from {source}{example}"
        )

    return said


def _ratings(what: str) -> Callable[[Evidence], str]:
    def said(evidence: Evidence) -> str:
        ratings = " and ".join(f"{r:g}" for r in evidence["ratings"])
        return f"the judge rated {what} {ratings} of {evidence['out_of']}" if ratings else ""

    return said


def _rubric(evidence: Evidence) -> str:
    return _short(evidence["feedback"])


_CALL_FATE = {
    "missing": "{expected} was not called",
    "other tool": "{expected} expected, {actual} called",
    "arguments differ": "{expected} called with other {differing}",
    "unexpected": "{actual} called unexpectedly",
}


def _tool_call_accuracy(evidence: Evidence) -> str:
    calls = evidence["calls"]
    expected = [c for c in calls if c["expected"] is not None]
    off = [c for c in calls if c["verdict"] != "match"]
    if not off:
        return ""
    first = off[0]
    fate = _CALL_FATE[first["verdict"]].format(
        expected=first["expected"],
        actual=first["actual"],
        differing=", ".join(first.get("differing") or ()) or "arguments",
    )
    said = f"{len(off)} of {len(expected)} expected calls not made as expected, e.g. {fate}"
    if not evidence["in_order"]:
        said = f"the tools were not called in the expected order; {said}"
    return said


def _tool_call_f1(evidence: Evidence) -> str:
    missing, unexpected = evidence["missing"], evidence["unexpected"]
    expected = len(evidence["matched"]) + len(missing)
    if not expected and not unexpected:
        return "no call was expected and none was made: ragas' F1 of two empty sets is 0"
    parts = []
    if missing:
        parts.append(f"{len(missing)} of {expected} expected calls not made, e.g. {missing[0]}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected calls, e.g. {unexpected[0]}")
    return "; ".join(parts)


def _goal(evidence: Evidence) -> str:
    if evidence.get("achieved") is not False:
        return ""
    ended = evidence["end_state"][:80]
    return f'the judge found the goal not reached; the conversation ended with "{ended}"'


def _topics(precision: bool, recall: bool) -> Callable[[Evidence], str]:
    """Topics answered though outside the reference topics (precision), and topics of the
    reference refused (recall)."""

    def said(evidence: Evidence) -> str:
        topics = evidence["topics"]
        if not topics:
            return "the judge found no topic in the conversation"
        strayed = [t for t in topics if t["answered"] and t["in_reference"] is False]
        refused = [t for t in topics if t["answered"] is False and t["in_reference"]]
        parts = []
        if precision and strayed:
            parts.append(
                f"{len(strayed)} of {len(topics)} topics answered though outside the "
                f'reference topics, e.g. "{strayed[0]["topic"][:80]}"'
            )
        if recall and refused:
            parts.append(
                f"{len(refused)} of {len(topics)} topics of the reference refused, "
                f'e.g. "{refused[0]["topic"][:80]}"'
            )
        return "; ".join(parts)

    return said


_WHY: dict[str, Callable[[Evidence], str]] = {
    "faithfulness": _faithfulness,
    "context_recall": _context_recall,
    "context_precision": _context_precision,
    "answer_relevancy": _answer_relevancy,
    "answer_correctness": _answer_correctness,
    "factual_correctness": _factual_correctness,
    "context_precision_without_reference": _context_precision,
    "context_utilization": _context_precision,
    "context_entity_recall": _context_entity_recall,
    "noise_sensitivity": _noise(irrelevant=False),
    "noise_sensitivity_irrelevant": _noise(irrelevant=True),
    "context_relevance": _ratings("the contexts' relevance to the question"),
    "response_groundedness": _ratings("the answer's grounding in the contexts"),
    "answer_accuracy": _ratings("the answer's agreement with the reference"),
    "rubrics_score_with_reference": _rubric,
    "rubrics_score_without_reference": _rubric,
    "instance_specific_rubrics": _rubric,
    "tool_call_accuracy": _tool_call_accuracy,
    "tool_call_f1": _tool_call_f1,
    "agent_goal_accuracy": _goal,
    "agent_goal_accuracy_without_reference": _goal,
    "topic_adherence": _topics(precision=True, recall=True),
    "topic_adherence_precision": _topics(precision=True, recall=False),
    "topic_adherence_recall": _topics(precision=False, recall=True),
    "conversation_rubrics_score": _rubric,
    "conversation_instance_rubrics": _rubric,
}


def why(metric: str, evidence: Evidence | None, score: float | None, below: float = LOW) -> str:
    """One line on why a score is low (under `below`), from its evidence ("" when it is
    not, or when there is no evidence to say it from).

    `score` is on 0..1 with 1 the best (`Scale.normalise`): a rubric's 2 of 5 is 0.25, a
    noise sensitivity of 0.8 (lower is better) is 0.2. Evidence that is the judge's or the
    metric's reason (a job's own metric, quoted spans) is said by that reason."""
    if evidence is None or score is None or score >= below:
        return ""
    if "reason" in evidence:
        return _short(evidence["reason"])
    said = _WHY.get(metric)
    return said(evidence) if said is not None else ""
