"""What a score rests on: the judge's structured answers of one (sample, metric) call, in
the metric's own terms, and a one-line `why` for a low score.

ragas computes faithfulness from statements and their verdicts, context recall from the
reference's sentences attributed or not, context precision from a verdict per context,
answer relevancy from the questions the answer suggests, the correctness metrics from
claims and their classification, and keeps only the number. The judge's gate records
every structured answer of a metric call (`rag_eval.judges.gate`); this module reads them
back. Nothing here changes a score.

Bounded: at most MAX_ITEMS items a list and MAX_CHARS characters a text; `cut` says when
something was left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MAX_ITEMS = 20
MAX_CHARS = 300
LOW = 0.5  # a score under this gets a `why`

# Both are JSON: a structured answer of the judge as it parsed it, and the evidence as
# results.json keeps it (read back by the report and the advisor).
JudgeAnswer = dict[str, Any]
Evidence = dict[str, Any]
# One judged item in the metric's own words: {text name: str, verdict name: bool, reason: str}
Judged = dict[str, str | bool]


class _Bounded:
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


def _verdicts(outputs: list[JudgeAnswer], key: str, flag: str) -> list[JudgeAnswer]:
    """Every {statement, flag, reason} item of the answers that carry `key`."""
    found: list[JudgeAnswer] = []
    for output in outputs:
        for item in output.get(key) or []:
            if isinstance(item, dict) and flag in item:
                found.append(item)
    return found


def _judged(
    outputs: list[JudgeAnswer], cut: _Bounded, key: str, flag: str, names: tuple[str, str]
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


def _faithfulness(outputs: list[JudgeAnswer], cut: _Bounded) -> Evidence:
    return {
        "statements": _judged(outputs, cut, "statements", "verdict", ("statement", "supported"))
    }


def _context_recall(outputs: list[JudgeAnswer], cut: _Bounded) -> Evidence:
    return {
        "reference_sentences": _judged(
            outputs, cut, "classifications", "attributed", ("sentence", "attributed")
        )
    }


def _context_precision(outputs: list[JudgeAnswer], cut: _Bounded) -> Evidence:
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


def _answer_relevancy(outputs: list[JudgeAnswer], cut: _Bounded) -> Evidence:
    asked = [o for o in outputs if "question" in o]
    return {
        # Asked at once, so answered in any order: sorted, they read the same every time.
        "generated_questions": sorted(cut.text(o.get("question")) for o in cut.items(asked)),
        "noncommittal": bool(asked) and all(bool(o.get("noncommittal")) for o in asked),
    }


def _answer_correctness(outputs: list[JudgeAnswer], cut: _Bounded) -> Evidence:
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


def _factual_correctness(outputs: list[JudgeAnswer], cut: _Bounded) -> Evidence:
    return {
        "claims": [
            cut.text(claim)
            for claim in cut.items([c for o in outputs for c in o.get("claims") or []])
        ],
        "verdicts": _judged(outputs, cut, "statements", "verdict", ("claim", "supported")),
    }


_READERS: dict[str, Callable[[list[JudgeAnswer], _Bounded], Evidence]] = {
    "faithfulness": _faithfulness,
    "context_recall": _context_recall,
    "context_precision": _context_precision,
    "answer_relevancy": _answer_relevancy,
    "answer_correctness": _answer_correctness,
    "factual_correctness": _factual_correctness,
}


def evidence_for(metric: str, outputs: list[JudgeAnswer]) -> Evidence | None:
    """The evidence of one metric call from the judge's answers; None when the metric has
    no intermediate outputs (embeddings, string overlap) or the judge gave none."""
    reader = _READERS.get(metric)
    if reader is None or not outputs:
        return None
    cut = _Bounded()
    evidence = reader(outputs, cut)
    if cut.cut:
        evidence["cut"] = True
    return evidence


def _failed(items: list[dict[str, Any]], flag: str, text: str, said: str) -> str:
    """ "2 of 3 <said>, e.g. "<the first that failed>"": the items whose `flag` is false."""
    missing = [item for item in items if not item.get(flag)]
    example = f', e.g. "{missing[0][text][:80]}"' if missing else ""
    return f"{len(missing)} of {len(items)} {said}{example}"


def why(metric: str, evidence: Evidence | None, score: float | None, below: float = LOW) -> str:
    """One line on why a score is low (under `below`), from its evidence ("" when it is
    not, or when there is no evidence to say it from)."""
    if evidence is None or score is None or score >= below:
        return ""
    if metric == "faithfulness":
        return _failed(
            evidence["statements"],
            "supported",
            "statement",
            "statements of the answer are not supported by the contexts",
        )
    if metric == "context_recall":
        return _failed(
            evidence["reference_sentences"],
            "attributed",
            "sentence",
            "reference sentences are not in the retrieved contexts",
        )
    if metric == "context_precision":
        items = evidence["contexts"]
        useful = [i["context"] for i in items if i["useful"]]
        if not useful:
            return f"none of the {len(items)} retrieved contexts is useful for the answer"
        return f"{len(useful)} of {len(items)} contexts are useful, the first at rank {useful[0]}"
    if metric == "answer_relevancy":
        if evidence["noncommittal"]:
            return "the answer is noncommittal (it evades the question)"
        asked = evidence["generated_questions"]
        return f'the answer suggests another question, e.g. "{asked[0][:80]}"' if asked else ""
    if metric == "answer_correctness":
        fp, fn = evidence["false_positives"], evidence["false_negatives"]
        example = (fp or fn or [{"statement": ""}])[0]["statement"][:80]
        return (
            f"{len(fp)} statements not in the reference, {len(fn)} reference statements missing"
            + (f', e.g. "{example}"' if example else "")
        )
    if metric == "factual_correctness":
        return _failed(evidence["verdicts"], "supported", "claim", "claims are not supported")
    return ""
