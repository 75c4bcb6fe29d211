"""Which tool calls of a conversation matched the expected ones: the evidence behind
tool_call_accuracy and tool_call_f1, and the report's expected-beside-actual view.

Read the way ragas reads them, so that the evidence explains the score it sits beside:
tool_call_accuracy pairs the calls by position (after sorting both lists when order is
free) and gives a pair of the same tool the share of expected arguments whose values are
equal as text; tool_call_f1 compares the calls as sets of (name, arguments). Nothing here
computes a score: ragas does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from rag_eval.domain.conversation import ToolCall

# How an expected call fared against the call made in its place.
Verdict = Literal["match", "arguments differ", "other tool", "missing", "unexpected"]


@dataclass(frozen=True)
class CallPair:
    expected: ToolCall | None
    actual: ToolCall | None
    verdict: Verdict
    args_share: float  # of the expected arguments given the same value (ragas' rule)
    differing: tuple[str, ...] = ()  # expected argument names given another value or none

    def describe(self) -> dict[str, Any]:
        """JSON for the evidence and the report."""
        described: dict[str, Any] = {
            "expected": self.expected.label() if self.expected else None,
            "actual": self.actual.label() if self.actual else None,
            "verdict": self.verdict,
        }
        if self.verdict == "arguments differ":
            described["args_matched"] = round(self.args_share, 4)
            described["differing"] = list(self.differing)
        return described


def args_share(actual: dict[str, Any], expected: dict[str, Any]) -> tuple[float, tuple[str, ...]]:
    """ragas' exact_match_args: the share of expected arguments the call gave the same value
    (compared as text); with none expected, 1 if none were given. And those that differ."""
    if not expected:
        return (0.0 if actual else 1.0), ()
    differing = tuple(
        name
        for name, value in expected.items()
        if name not in actual or str(actual[name]) != str(value)
    )
    return (len(expected) - len(differing)) / len(expected), differing


def _order_key(call: ToolCall) -> tuple[str, ...]:
    """ragas' sort key of a call when order is free: its name, then each argument."""
    key = [call.name]
    for name in sorted(call.args):
        key += [name, str(call.args[name])]
    return tuple(key)


def pair_calls(
    actual: list[ToolCall], expected: list[ToolCall], *, strict_order: bool = True
) -> list[CallPair]:
    """The expected calls beside the calls made, paired by position as ragas pairs them;
    calls beyond the shorter list are missing (expected, not made) or unexpected."""
    if not strict_order:
        actual = sorted(actual, key=_order_key)
        expected = sorted(expected, key=_order_key)
    pairs: list[CallPair] = []
    for index in range(max(len(actual), len(expected))):
        want = expected[index] if index < len(expected) else None
        made = actual[index] if index < len(actual) else None
        if want is None:
            pairs.append(CallPair(None, made, "unexpected", 0.0))
        elif made is None:
            pairs.append(CallPair(want, None, "missing", 0.0))
        elif made.name != want.name:
            pairs.append(CallPair(want, made, "other tool", 0.0))
        else:
            share, differing = args_share(made.args, want.args)
            verdict: Verdict = "match" if share == 1.0 else "arguments differ"
            pairs.append(CallPair(want, made, verdict, share, differing))
    return pairs


def _identity(call: ToolCall) -> str:
    return json.dumps([call.name, call.args], sort_keys=True, ensure_ascii=False, default=str)


def call_sets(actual: list[ToolCall], expected: list[ToolCall]) -> dict[str, list[str]]:
    """tool_call_f1's view: the distinct calls made and expected, compared as sets."""
    made = {_identity(c): c for c in actual}
    wanted = {_identity(c): c for c in expected}
    return {
        "matched": [wanted[k].label() for k in wanted if k in made],
        "missing": [wanted[k].label() for k in wanted if k not in made],
        "unexpected": [made[k].label() for k in made if k not in wanted],
    }
