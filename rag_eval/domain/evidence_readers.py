"""The readers behind `rag_eval.domain.evidence`: for each judge metric, its judge's
structured answers of one (sample, metric) call, read back in the metric's own terms.

Each reader takes the answers in the order the judge gave them (ragas asks one prompt
after the other within a metric call, so the order is ragas' own) and returns JSON.
Bounded: at most MAX_ITEMS items a list and MAX_CHARS characters a text; `Bounded` says
when something was left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rag_eval.domain.conversation import Message, ToolCall, called_tools
from rag_eval.domain.tool_calls import call_sets, pair_calls

MAX_ITEMS = 20
MAX_CHARS = 300

# Both are JSON: a structured answer of the judge as it parsed it, and the evidence as
# results.json keeps it (read back by the report and the advisor).
JudgeAnswer = dict[str, Any]
Evidence = dict[str, Any]
# One judged item in the metric's own words: {text name: str, verdict name: bool, reason: str}
Judged = dict[str, str | bool]


class Bounded:
    """Cuts texts and lists, remembering whether it did."""

    def __init__(self) -> None:
        self.cut = False

    def text(self, value: Any) -> str:
        text = str(value if value is not None else "")
        if len(text) > MAX_CHARS:
            self.cut = True
            return text[: MAX_CHARS - 1] + "…"
        return text

    def items(self, values: list[Any]) -> list[Any]:
        if len(values) > MAX_ITEMS:
            self.cut = True
        return values[:MAX_ITEMS]


Reader = Callable[[list[JudgeAnswer], Bounded], Evidence]


def _verdicts(outputs: list[JudgeAnswer], key: str, flag: str) -> list[JudgeAnswer]:
    """Every {statement, flag, reason} item of the answers that carry `key`."""
    found: list[JudgeAnswer] = []
    for output in outputs:
        for item in output.get(key) or []:
            if isinstance(item, dict) and flag in item:
                found.append(item)
    return found


def _judged(
    outputs: list[JudgeAnswer], cut: Bounded, key: str, flag: str, names: tuple[str, str]
) -> list[Judged]:
    """The judge's {statement, flag, reason} items under `key`, as {text, verdict, reason}
    in the metric's own words (`names`)."""
    text, verdict = names
    return [
        {
            text: cut.text(item.get("statement")),
            verdict: bool(item.get(flag)),
            "reason": cut.text(item.get("reason")),
        }
        for item in cut.items(_verdicts(outputs, key, flag))
    ]


def _faithfulness(outputs: list[JudgeAnswer], cut: Bounded) -> Evidence:
    return {
        "statements": _judged(outputs, cut, "statements", "verdict", ("statement", "supported"))
    }


def _context_recall(outputs: list[JudgeAnswer], cut: Bounded) -> Evidence:
    return {
        "reference_sentences": _judged(
            outputs, cut, "classifications", "attributed", ("sentence", "attributed")
        )
    }


def _context_precision(outputs: list[JudgeAnswer], cut: Bounded) -> Evidence:
    verdicts = [o for o in outputs if "verdict" in o and "statements" not in o]
    return {
        "contexts": [
            {
                "context": index,
                "useful": bool(o.get("verdict")),
                "reason": cut.text(o.get("reason")),
            }
            for index, o in enumerate(cut.items(verdicts), start=1)
        ]
    }


def _answer_relevancy(outputs: list[JudgeAnswer], cut: Bounded) -> Evidence:
    asked = [o for o in outputs if "question" in o]
    return {
        # Asked at once, so answered in any order: sorted, they read the same every time.
        "generated_questions": sorted(cut.text(o.get("question")) for o in cut.items(asked)),
        "noncommittal": bool(asked) and all(bool(o.get("noncommittal")) for o in asked),
    }


def _answer_correctness(outputs: list[JudgeAnswer], cut: Bounded) -> Evidence:
    classified: JudgeAnswer = next((o for o in reversed(outputs) if "TP" in o), {})

    def statements(key: str) -> list[dict[str, str]]:
        return [
            {"statement": cut.text(item.get("statement")), "reason": cut.text(item.get("reason"))}
            for item in cut.items([i for i in classified.get(key) or [] if isinstance(i, dict)])
        ]

    return {
        "true_positives": statements("TP"),
        "false_positives": statements("FP"),
        "false_negatives": statements("FN"),
    }


def _factual_correctness(outputs: list[JudgeAnswer], cut: Bounded) -> Evidence:
    return {
        "claims": [
            cut.text(claim)
            for claim in cut.items([c for o in outputs for c in o.get("claims") or []])
        ],
        "verdicts": _judged(outputs, cut, "statements", "verdict", ("claim", "supported")),
    }


def _context_entity_recall(outputs: list[JudgeAnswer], cut: Bounded) -> Evidence:
    # ragas asks for the reference's entities first, then the joined contexts', and
    # compares them as exact strings: "missing" is what its recall did not find.
    lists = [[str(e) for e in o.get("entities") or []] for o in outputs if "entities" in o]
    reference = list(dict.fromkeys(lists[0])) if lists else []
    in_contexts = list(dict.fromkeys(lists[1])) if len(lists) > 1 else []
    found = set(in_contexts)
    return {
        "reference_entities": [cut.text(e) for e in cut.items(reference)],
        "context_entities": [cut.text(e) for e in cut.items(in_contexts)],
        "missing": [cut.text(e) for e in cut.items([e for e in reference if e not in found])],
    }


def _flags(answer: JudgeAnswer) -> list[bool]:
    """The verdicts of one NLI answer, in the order of the statements it was asked about."""
    return [
        bool(item.get("verdict"))
        for item in answer.get("statements") or []
        if isinstance(item, dict)
    ]


def _flag(flags: list[bool], index: int) -> bool:
    return flags[index] if index < len(flags) else False


def _noise_sensitivity(outputs: list[JudgeAnswer], cut: Bounded) -> Evidence:
    # ragas' order: the reference's statements, the answer's, then for each context the
    # reference's and the answer's verdicts on it, and last the answer's on the reference.
    split, judged = outputs[:2], outputs[2:]
    answer = [str(s) for s in (split[1].get("statements") or [])] if len(split) > 1 else []
    contexts = len(judged) // 2
    on_reference = _flags(judged[2 * contexts]) if len(judged) > 2 * contexts else []
    relevant = [i + 1 for i in range(contexts) if any(_flags(judged[2 * i]))]
    statements = [
        {
            "statement": cut.text(statement),
            "in_reference": _flag(on_reference, k),
            "contexts": cut.items(
                [i + 1 for i in range(contexts) if _flag(_flags(judged[2 * i + 1]), k)]
            ),
        }
        for k, statement in enumerate(cut.items(answer))
    ]
    evidence: Evidence = {
        "relevant_contexts": cut.items(relevant),
        "answer_statements": statements,
    }
    if len(judged) != 2 * contexts + 1:  # the metric stopped before its last verdict
        evidence["incomplete"] = True
    return evidence


def _ratings(out_of: int) -> Reader:
    """ragas' two-judge metrics: every rating the judge gave (a rating off the scale is
    asked again, so there may be more than two), and the top of the scale."""

    def read(outputs: list[JudgeAnswer], cut: Bounded) -> Evidence:
        ratings = [o["rating"] for o in outputs if isinstance(o.get("rating"), int | float)]
        return {"ratings": cut.items(ratings), "out_of": out_of}

    return read


def _rubric(outputs: list[JudgeAnswer], cut: Bounded) -> Evidence:
    answer: JudgeAnswer = next((o for o in reversed(outputs) if "score" in o), {})
    return {"score": answer.get("score"), "feedback": cut.text(answer.get("feedback"))}


def _goal(outputs: list[JudgeAnswer], cut: Bounded) -> Evidence:
    # ragas asks for the goal and end state, then compares the end state with the
    # reference outcome (or, without one, with the goal it inferred).
    workflow: JudgeAnswer = next((o for o in outputs if "end_state" in o), {})
    verdict: JudgeAnswer = next((o for o in reversed(outputs) if "verdict" in o), {})
    evidence: Evidence = {
        "user_goal": cut.text(workflow.get("user_goal")),
        "end_state": cut.text(workflow.get("end_state")),
    }
    if verdict:
        evidence["achieved"] = str(verdict.get("verdict")) == "1"
        # Not "reason": that key marks evidence that is a reason alone (evidence.why).
        evidence["verdict_reason"] = cut.text(verdict.get("reason"))
    return evidence


def _topics(outputs: list[JudgeAnswer], cut: Bounded) -> Evidence:
    # ragas' order: the topics, whether each was refused (one answer a topic, in the
    # topics' order), then one classification of all topics against the reference.
    topics = next((o.get("topics") or [] for o in outputs if "topics" in o), [])
    refused = [bool(o.get("refused_to_answer")) for o in outputs if "refused_to_answer" in o]
    inside = next((o.get("classifications") or [] for o in outputs if "classifications" in o), [])
    return {
        "topics": [
            {
                "topic": cut.text(topic),
                "answered": not refused[k] if k < len(refused) else None,
                "in_reference": bool(inside[k]) if k < len(inside) else None,
            }
            for k, topic in enumerate(cut.items(list(topics)))
        ]
    }


READERS: dict[str, Reader] = {
    "faithfulness": _faithfulness,
    "context_recall": _context_recall,
    "context_precision": _context_precision,
    "answer_relevancy": _answer_relevancy,
    "answer_correctness": _answer_correctness,
    "factual_correctness": _factual_correctness,
    # Without a reference, ragas asks the very prompt of context precision, per context.
    "context_precision_without_reference": _context_precision,
    "context_utilization": _context_precision,
    "context_entity_recall": _context_entity_recall,
    "noise_sensitivity": _noise_sensitivity,
    "noise_sensitivity_irrelevant": _noise_sensitivity,
    "context_relevance": _ratings(2),
    "response_groundedness": _ratings(2),
    "answer_accuracy": _ratings(4),
    "rubrics_score_with_reference": _rubric,
    "rubrics_score_without_reference": _rubric,
    "instance_specific_rubrics": _rubric,
    "agent_goal_accuracy": _goal,
    "agent_goal_accuracy_without_reference": _goal,
    "topic_adherence": _topics,
    "topic_adherence_precision": _topics,
    "topic_adherence_recall": _topics,
    "conversation_rubrics_score": _rubric,
    "conversation_instance_rubrics": _rubric,
}

# Metrics scored with no judge from the sample alone (the tool calls made and expected):
# their evidence is read from the metric's arguments, as plain values.
ArgumentReader = Callable[[dict[str, Any], Bounded], Evidence]


def _calls(arguments: dict[str, Any]) -> tuple[list[ToolCall], list[ToolCall]]:
    """The tool calls the conversation made, and those expected."""
    messages = [Message.model_validate(m) for m in arguments.get("user_input") or []]
    expected = [ToolCall.model_validate(c) for c in arguments.get("reference_tool_calls") or []]
    return called_tools(messages), expected


def _tool_call_pairs(arguments: dict[str, Any], cut: Bounded) -> Evidence:
    made, expected = _calls(arguments)
    pairs = [pair.describe() for pair in pair_calls(made, expected, strict_order=True)]
    for pair in pairs:
        pair["expected"] = None if pair["expected"] is None else cut.text(pair["expected"])
        pair["actual"] = None if pair["actual"] is None else cut.text(pair["actual"])
    # ragas scores 0 unless the tools come in the expected order.
    in_order = [c.name for c in made] == [c.name for c in expected]
    return {"calls": cut.items(pairs), "in_order": in_order}


def _tool_call_sets(arguments: dict[str, Any], cut: Bounded) -> Evidence:
    sets = call_sets(*_calls(arguments))
    return {key: [cut.text(label) for label in cut.items(labels)] for key, labels in sets.items()}


ARGUMENT_READERS: dict[str, ArgumentReader] = {
    "tool_call_accuracy": _tool_call_pairs,
    "tool_call_f1": _tool_call_sets,
}
