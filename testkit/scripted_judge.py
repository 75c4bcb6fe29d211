"""A deterministic, offline, OpenAI-compatible "judge" server on loopback.

The real ``openai`` client, ``instructor`` and the ragas collections metrics run against
it unchanged, so tests, benchmarks and demos exercise the whole judge path without a
model and without network access.

How it answers. ragas' collections metrics (``ragas.llms.llm_factory`` with an
``AsyncOpenAI`` client) go through instructor in ``Mode.JSON``: each request to
``POST /v1/chat/completions`` carries ``response_format={"type": "json_object"}``, a
system message with the JSON schema of the expected output model, and a user message
with the ragas prompt, which ends with ``input: {...json...}``. The judge reads the
schema's title to know which question is asked, reads the input JSON, and answers with
a heuristic based on word overlap, so that a well-grounded sample scores high and an
ungrounded one low:

* ``StatementGeneratorOutput`` / ``ClaimDecompositionOutput``: the sentences of the text
  (the ``answer`` of faithfulness' and noise sensitivity's input, or a ``text``).
* ``NLIStatementOutput``: verdict 1 when enough of a statement's content words appear in
  the context.
* ``ContextPrecisionOutput``: verdict 1 when some sentence of the reference (or answer)
  is supported by the context.
* ``ContextRecallOutput``: one classification per sentence of the reference, attributed
  when supported by the context.
* ``ClassificationWithReason`` (answer correctness): TP/FP for answer statements
  supported / not supported by the ground truth, FN for ground-truth statements not
  covered by the answer.
* ``AnswerRelevanceOutput``: the response's first sentence turned into a question
  (embeddings of it are close to the user's question exactly when the answer shares
  its words), ``noncommittal`` 1 for evasive answers ("I don't know", ...).
* ``EntitiesList`` (context entity recall): the distinct content words of the text,
  lowercased, in order (each CJK character is one), so the reference's "entities" are
  found in the contexts exactly when their words are.
* ``StatementFaithfulnessOutput`` (noise sensitivity's NLI): as ``NLIStatementOutput``.
* ``ContextRelevanceOutput``: rating 2 when enough of the question's content words appear
  in the contexts, 1 when at least half of that share does, else 0.
* ``ResponseGroundednessOutput``: rating 2 when every sentence of the response is
  supported by the context, 1 when some is, else 0.
* ``AnswerAccuracyOutput``: rating 4 when enough of the reference answer's content words
  appear in the user answer, 2 when at least half of that share does, else 0 (0 for an
  evasive answer).
* ``RubricScoreOutput`` / ``InstanceRubricScoreOutput``: score 1 + 4 x share, rounded
  half up, the share of the reference's content words in the response (without a
  reference, the question's; without either, the response's found in the contexts), 1
  for an evasive answer, with feedback saying so (and quoting the sample's rubric for
  that score). The rubric's wording, and a job's own criteria before it, are not read.
* ``DiscreteResponseModel`` / ``NumericResponseModel`` (a job's own metrics, whose prompt
  is the team's free text with the sample's texts in it, no input JSON): the scripted
  judge does NOT follow a custom metric's instructions. It answers from a SHA-256 digest
  of the prompt, so the same prompt always gets the same answer: one of the schema's
  allowed values; or a number in the first range the prompt states ("0 to 10", "1-5",
  "between 0 and 100"; an integer when both ends are integers more than 1 apart, else
  two decimals), in [0, 1] when it states none.
* Conversations (ragas' agent metrics), read from the conversation as ragas writes it
  (``Human:``, ``AI:``, ``Tools:``, ``ToolOutput:`` lines):

  * ``WorkflowOutput``: the user's goal is the first human message, the end state the
    AI's last message.
  * ``CompareOutcomeOutput``: verdict "1" when enough of the desired outcome's content
    words appear in the arrived outcome and it is no refusal, else "0", with a reason
    saying the share.
  * ``TopicExtractionOutput``: one topic per human message of at least three content
    words (a "thanks" is no topic): its first sentence, at most 60 characters.
  * ``TopicRefusedOutput``: refused when the AI's reply to the human message of that
    topic says it cannot help ("I can't help with", "cannot help", "抱歉", ...).
  * ``TopicClassificationOutput``: a topic is within the reference topics when it shares
    a content word with one of them.
  * ``ScoreFeedback`` (ragas' multi-turn rubric scoring): score 1 + 4 x share, rounded
    half up, the share of the reference's content words in the AI's messages (without a
    reference, the human messages'), 1 when the AI's last message refuses or evades,
    with feedback saying so (and quoting the sample's rubric for that score).
* ``_TranslatedStrings`` (prompt adaptation): the strings unchanged.
* ``AdviceNarrative`` (the advisor's narrative): names the weakest metric it was given.

Words are lowercased; CJK text counts character by character, so Chinese works too.
An unknown schema title is answered with HTTP 400 naming the title, so a missing case
is visible rather than silent. Tool calling (``tools``) and ``response_format`` of type
``json_schema`` are understood as well.

``POST /v1/embeddings`` returns hashed bag-of-words vectors (256 dimensions,
L2-normalised), so texts sharing words have a high cosine.

Run standalone::

    python -m testkit.scripted_judge --port 8900 --latency 0.2
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import re
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FAILURE_KINDS", "HANDLED_TITLES", "JudgeStats", "ScriptedJudge", "embed"]

EMBEDDING_DIMS = 256
DEFAULT_SUPPORT_THRESHOLD = 0.6
FAILURE_KINDS = ("rate_limit", "server_error", "hang", "garbage")
GARBAGE_CONTENT = "Well, I think the answer is probably yes, but let me think about it more."
# How long a "hang" lasts when nobody stops the server: far beyond any client timeout.
HANG_SECONDS = 3600.0

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN_RE = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？；])|\n+")
_CJK_RE = re.compile(rf"[{_CJK}]")

STOPWORDS = frozenset(
    """a an the is are was were be been being am do does did of to in on at by for
    with from as and or but not no it its this that these those there here he she
    they them his her their we you your i me my our what which who whom whose when
    where why how can could should would will shall may might must has have had
    than then so if about into over also just very such any some all""".split()  # noqa: SIM905
) | frozenset("的了是在和与及或也都就而之其这那有")

_EVASIVE_MARKERS = (
    "i don't know",
    "i do not know",
    "i'm not sure",
    "i am not sure",
    "not sure",
    "cannot answer",
    "can't answer",
    "no information",
    "unable to answer",
    "it depends",
    "不知道",
    "不确定",
    "无法回答",
    "没有相关信息",
)

_UNRELATED_QUESTION = "What is the airspeed velocity of an unladen swallow?"


# --------------------------------------------------------------------------- #
# Text heuristics
# --------------------------------------------------------------------------- #


def tokens(text: str) -> list[str]:
    """Lowercased word tokens; CJK characters are one token each."""
    return _TOKEN_RE.findall(text.lower())


def content_tokens(text: str) -> list[str]:
    """Tokens without stop words (all tokens if nothing else is left)."""
    toks = tokens(text)
    kept = [tok for tok in toks if tok not in STOPWORDS]
    return kept or toks


def sentences(text: str) -> list[str]:
    """Split text into sentences (Latin and CJK punctuation, newlines)."""
    return [part.strip() for part in _SENTENCE_RE.split(text) if part and part.strip()]


def overlap(statement: str, context: str) -> float:
    """Share of the statement's distinct content tokens that occur in the context."""
    wanted = set(content_tokens(statement))
    if not wanted:
        return 0.0
    available = set(tokens(context))
    return len(wanted & available) / len(wanted)


def count_tokens(text: str) -> int:
    """A token count as OpenAI's tokenizers come out on average: about 4 characters a
    token for Latin text, one token a CJK character."""
    cjk = len(_CJK_RE.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


def embed(text: str, dims: int = EMBEDDING_DIMS) -> list[float]:
    """Deterministic hashed bag-of-words embedding, L2-normalised."""
    vec = [0.0] * dims
    toks = content_tokens(text) or ["<empty>"]
    for tok in toks:
        digest = hashlib.blake2b(tok.encode("utf-8"), digest_size=8).digest()
        vec[int.from_bytes(digest[:4], "little") % dims] += 1.0
    norm = math.sqrt(sum(x * x for x in vec))
    return [x / norm for x in vec]


def _supported(statement: str, context: str, threshold: float) -> tuple[int, str]:
    score = overlap(statement, context)
    verdict = int(score >= threshold)
    reason = (
        f"{score:.0%} of the statement's key words appear in the context, "
        f"so it {'can' if verdict else 'cannot'} be inferred from it."
    )
    return verdict, reason


def _as_question(text: str) -> str:
    first = (sentences(text) or [text.strip()])[0]
    return first.rstrip(" .!?。！？;；") + "?"


# --------------------------------------------------------------------------- #
# Answers per schema title
# --------------------------------------------------------------------------- #

Answerer = Callable[[dict[str, Any], float], dict[str, Any]]


def _statements(data: dict[str, Any], _th: float) -> dict[str, Any]:
    return {"statements": sentences(str(data.get("answer", data.get("text", ""))))}


def _claims(data: dict[str, Any], _th: float) -> dict[str, Any]:
    return {"claims": sentences(str(data.get("response", "")))}


def _nli(data: dict[str, Any], th: float) -> dict[str, Any]:
    context = str(data.get("context", ""))
    out = []
    for statement in data.get("statements", []):
        verdict, reason = _supported(str(statement), context, th)
        out.append({"statement": statement, "reason": reason, "verdict": verdict})
    return {"statements": out}


def _context_precision(data: dict[str, Any], th: float) -> dict[str, Any]:
    context = str(data.get("context", ""))
    answer = str(data.get("answer", ""))
    best = max((overlap(s, context) for s in sentences(answer) or [answer]), default=0.0)
    verdict = int(best >= th)
    reason = (
        f"The context {'contains' if verdict else 'lacks'} the key facts of the answer "
        f"(best sentence overlap {best:.0%})."
    )
    return {"reason": reason, "verdict": verdict}


def _context_recall(data: dict[str, Any], th: float) -> dict[str, Any]:
    context = str(data.get("context", ""))
    out = []
    for sentence in sentences(str(data.get("answer", ""))):
        verdict, reason = _supported(sentence, context, th)
        out.append({"statement": sentence, "reason": reason, "attributed": verdict})
    return {"classifications": out}


def _correctness(data: dict[str, Any], th: float) -> dict[str, Any]:
    answer = [str(s) for s in data.get("answer", [])]
    truth = [str(s) for s in data.get("ground_truth", [])]
    truth_text, answer_text = "\n".join(truth), "\n".join(answer)
    tp: list[dict[str, str]] = []
    fp: list[dict[str, str]] = []
    fn: list[dict[str, str]] = []
    for statement in answer:
        verdict, reason = _supported(statement, truth_text, th)
        (tp if verdict else fp).append({"statement": statement, "reason": reason})
    for statement in truth:
        verdict, reason = _supported(statement, answer_text, th)
        if not verdict:
            fn.append({"statement": statement, "reason": reason})
    return {"TP": tp, "FP": fp, "FN": fn}


def _answer_relevance(data: dict[str, Any], _th: float) -> dict[str, Any]:
    response = str(data.get("response", ""))
    lowered = response.lower().replace("’", "'")
    noncommittal = int(any(marker in lowered for marker in _EVASIVE_MARKERS))
    question = _as_question(response) if response.strip() else _UNRELATED_QUESTION
    return {"question": question, "noncommittal": noncommittal}


def _translated(data: dict[str, Any], _th: float) -> dict[str, Any]:
    return {"statements": list(data.get("statements", []))}


def _evasive(text: str) -> bool:
    lowered = text.lower().replace("’", "'")
    return any(marker in lowered for marker in _EVASIVE_MARKERS)


def _graded(share: float, th: float, top: int) -> int:
    """`top` when the share reaches the support threshold, half of it at half the
    threshold, else 0: the 0/1/2 and 0/2/4 ratings of ragas' two-judge metrics."""
    if share >= th:
        return top
    return top // 2 if share >= th / 2 else 0


def _entities(data: dict[str, Any], _th: float) -> dict[str, Any]:
    # Distinct, in order of appearance: ragas compares the two lists as sets.
    return {"entities": list(dict.fromkeys(content_tokens(str(data.get("text", "")))))}


def _context_relevance(data: dict[str, Any], th: float) -> dict[str, Any]:
    share = overlap(str(data.get("user_input", "")), str(data.get("context", "")))
    return {"rating": _graded(share, th, 2)}


def _groundedness(data: dict[str, Any], th: float) -> dict[str, Any]:
    context = str(data.get("context", ""))
    verdicts = [_supported(s, context, th)[0] for s in sentences(str(data.get("response", "")))]
    rating = 2 if verdicts and all(verdicts) else int(any(verdicts))
    return {"rating": rating}


def _answer_accuracy(data: dict[str, Any], th: float) -> dict[str, Any]:
    answer = str(data.get("user_answer", ""))
    share = 0.0 if _evasive(answer) else overlap(str(data.get("reference_answer", "")), answer)
    return {"rating": _graded(share, th, 4)}


def _rubric_score(data: dict[str, Any], _th: float) -> dict[str, Any]:
    response = str(data.get("response") or "")
    if data.get("reference"):
        share = overlap(str(data["reference"]), response)
        said = f"{share:.0%} of the reference's key words appear in the response"
    elif data.get("user_input"):
        share = overlap(str(data["user_input"]), response)
        said = f"{share:.0%} of the question's key words appear in the response"
    else:
        contexts = "\n".join(str(c) for c in data.get("retrieved_contexts") or [])
        share = overlap(response, contexts)
        said = f"{share:.0%} of the response's key words appear in the contexts"
    if _evasive(response):
        share, said = 0.0, "The response evades the question"
    return _rubric_answer(share, said, "it", data)


def _rubric_answer(share: float, said: str, what: str, data: dict[str, Any]) -> dict[str, Any]:
    """Score 1 + 4 x share, rounded half up, with feedback saying why and quoting the
    sample's own rubric for that score."""
    score = 1 + math.floor(4 * share + 0.5)
    feedback = f"{said}, so {what} scores {score} of 5."
    rubric = (data.get("rubrics") or {}).get(f"score{score}_description")
    if rubric:
        feedback += f' The rubric for {score}: "{rubric}"'
    return {"feedback": feedback, "score": score}


# A range a free-text prompt states: "between 0 and 100", "0 to 10", "1-5", "0..1", "1~5".
_NUMBER = r"(-?\d+(?:\.\d+)?)"
_RANGE_RE = re.compile(
    rf"between\s+{_NUMBER}\s+and\s+{_NUMBER}(?!\d)"
    rf"|(?<![\w.]){_NUMBER}\s*(?:to|-|–|—|~|\.\.|到|至)\s*{_NUMBER}(?!\d)",
    re.IGNORECASE,
)


def _digest_share(prompt: str) -> float:
    """A fraction in [0, 1) fixed by the prompt: the same prompt, the same answer."""
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _stated_range(prompt: str) -> tuple[float, float]:
    for match in _RANGE_RE.finditer(prompt):
        numbers = [float(n) for n in match.groups() if n is not None]
        if numbers[0] < numbers[1]:
            return numbers[0], numbers[1]
    return 0.0, 1.0


def _discrete(data: dict[str, Any], _th: float) -> dict[str, Any]:
    """A job's own discrete metric: not judged, but picked by the prompt's digest."""
    value_schema = ((data.get("schema") or {}).get("properties") or {}).get("value") or {}
    allowed = [str(v) for v in value_schema.get("enum") or []] or ["unknown"]
    value = allowed[int(_digest_share(str(data.get("prompt", ""))) * len(allowed))]
    reason = (
        "The scripted judge does not follow this metric's instructions: it picked "
        f'"{value}" by a digest of the prompt.'
    )
    return {"reason": reason, "value": value}


def _numeric(data: dict[str, Any], _th: float) -> dict[str, Any]:
    """A job's own numeric metric: a number in the range the prompt states, by its digest."""
    prompt = str(data.get("prompt", ""))
    low, high = _stated_range(prompt)
    value = low + _digest_share(prompt) * (high - low)
    whole = low.is_integer() and high.is_integer() and high - low > 1
    number: float = round(value) if whole else round(value, 2)
    reason = (
        "The scripted judge does not follow this metric's instructions: it chose "
        f"{number:g} in {low:g}..{high:g} by a digest of the prompt."
    )
    return {"reason": reason, "value": number}


def _narrative(data: dict[str, Any], _th: float) -> dict[str, Any]:
    """The advisor's narrative: names the weakest metric of the diagnosis it was given."""
    means = {k: v for k, v in (data.get("means") or {}).items() if v is not None}
    if not means:
        return {"summary": "Nothing could be scored.", "actions": []}
    weakest = min(means, key=lambda name: means[name])
    return {
        "summary": f"The weakest metric is {weakest} at {means[weakest]:.2f}.",
        "actions": [f"Start with {weakest}."],
    }


# How ragas writes a conversation into its prompts (MultiTurnSample.pretty_repr): a
# message starts a line with its speaker; an AI's tool calls follow "Tools:".
_SPEAKERS = {"Human:": "human", "AI:": "ai", "ToolOutput:": "tool", "Tools:": "calls"}
_REFUSAL_MARKERS = (
    "can't help with",
    "cannot help",
    "can not help",
    "not able to help",
    "unable to help",
    "i can't assist",
    "i cannot assist",
    "outside my scope",
    "i'm sorry, but i can't",
    "抱歉",
    "无法帮助",
    "不能帮",
)
_TOPIC_CHARS = 60


def _turns(conversation: str) -> list[tuple[str, str]]:
    """(speaker, text) of each message of a conversation as ragas writes it."""
    turns: list[tuple[str, str]] = []
    for line in conversation.splitlines():
        speaker = next((k for k in _SPEAKERS if line.startswith(k)), None)
        if speaker is not None:
            turns.append((_SPEAKERS[speaker], line[len(speaker) :].strip()))
        elif turns:  # a message of several lines, or a tool call under "Tools:"
            kind, text = turns[-1]
            turns[-1] = (kind, f"{text}\n{line.strip()}".strip())
    return turns


def _said(turns: list[tuple[str, str]], kind: str) -> list[str]:
    return [text for speaker, text in turns if speaker == kind and text]


def _refuses(text: str) -> bool:
    lowered = text.lower().replace("’", "'")
    return any(marker in lowered for marker in _REFUSAL_MARKERS)


def _workflow(data: dict[str, Any], _th: float) -> dict[str, Any]:
    turns = _turns(str(data.get("workflow", "")))
    asked, replies = _said(turns, "human"), _said(turns, "ai")
    return {
        "user_goal": asked[0] if asked else "The user asked nothing.",
        "end_state": replies[-1] if replies else "The AI never replied.",
    }


def _compare_outcome(data: dict[str, Any], th: float) -> dict[str, Any]:
    desired = str(data.get("desired_outcome", ""))
    arrived = str(data.get("arrived_outcome", ""))
    share = 0.0 if _refuses(arrived) else overlap(desired, arrived)
    verdict = "1" if share >= th else "0"
    reason = (
        f"{share:.0%} of the desired outcome's key words appear in the arrived outcome, so "
        f"the goal {'was' if verdict == '1' else 'was not'} achieved."
    )
    return {"reason": reason, "verdict": verdict}


def _topic(text: str) -> str:
    first = (sentences(text) or [text.strip()])[0].rstrip(" .!?。！？;；")
    return first[:_TOPIC_CHARS]


def _topic_extraction(data: dict[str, Any], _th: float) -> dict[str, Any]:
    asked = _said(_turns(str(data.get("user_input", ""))), "human")
    topics = [_topic(text) for text in asked if len(content_tokens(text)) >= 3]
    return {"topics": list(dict.fromkeys(topics))}


def _topic_refused(data: dict[str, Any], _th: float) -> dict[str, Any]:
    """Refused when the AI's replies to the human message the topic came from (the one
    sharing most of its words) say they cannot help."""
    turns = _turns(str(data.get("user_input", "")))
    topic = str(data.get("topic", ""))
    asked = [i for i, (speaker, _) in enumerate(turns) if speaker == "human"]
    if not asked:
        return {"refused_to_answer": False}
    start = max(asked, key=lambda i: overlap(topic, turns[i][1]))
    replies = []
    for speaker, text in turns[start + 1 :]:
        if speaker == "human":
            break
        if speaker == "ai":
            replies.append(text)
    return {"refused_to_answer": any(_refuses(text) for text in replies)}


def _topic_classification(data: dict[str, Any], _th: float) -> dict[str, Any]:
    allowed = [set(content_tokens(str(t))) for t in data.get("reference_topics") or []]
    return {
        "classifications": [
            any(set(content_tokens(str(topic))) & words for words in allowed)
            for topic in data.get("topics") or []
        ]
    }


def _conversation_rubric(data: dict[str, Any], _th: float) -> dict[str, Any]:
    turns = _turns(str(data.get("user_input", "")))
    said_by_ai = _said(turns, "ai")
    replies = "\n".join(said_by_ai)
    if data.get("reference"):
        share = overlap(str(data["reference"]), replies)
        said = f"{share:.0%} of the reference's key words appear in the AI's messages"
    else:
        share = overlap("\n".join(_said(turns, "human")), replies)
        said = f"{share:.0%} of the user's key words appear in the AI's messages"
    last = said_by_ai[-1] if said_by_ai else ""
    if _evasive(last) or _refuses(last):
        share, said = 0.0, "The AI's last message refuses or evades the request"
    return _rubric_answer(share, said, "the conversation", data)


ANSWERERS: dict[str, Answerer] = {
    "StatementGeneratorOutput": _statements,
    "NLIStatementOutput": _nli,
    "ContextPrecisionOutput": _context_precision,
    "ContextRecallOutput": _context_recall,
    "ClassificationWithReason": _correctness,
    "ClaimDecompositionOutput": _claims,
    "AnswerRelevanceOutput": _answer_relevance,
    "EntitiesList": _entities,
    "StatementFaithfulnessOutput": _nli,
    "ContextRelevanceOutput": _context_relevance,
    "ResponseGroundednessOutput": _groundedness,
    "AnswerAccuracyOutput": _answer_accuracy,
    "RubricScoreOutput": _rubric_score,
    "InstanceRubricScoreOutput": _rubric_score,
    "DiscreteResponseModel": _discrete,
    "NumericResponseModel": _numeric,
    "_TranslatedStrings": _translated,
    "AdviceNarrative": _narrative,
    "WorkflowOutput": _workflow,
    "CompareOutcomeOutput": _compare_outcome,
    "TopicExtractionOutput": _topic_extraction,
    "TopicRefusedOutput": _topic_refused,
    "TopicClassificationOutput": _topic_classification,
    "ScoreFeedback": _conversation_rubric,
}
HANDLED_TITLES = tuple(ANSWERERS)


# --------------------------------------------------------------------------- #
# Request parsing
# --------------------------------------------------------------------------- #

_DECODER = json.JSONDecoder()
_SCHEMA_MARKERS = ("json_schema:", "as specified in JSON Schema:")
_INPUT_MARKER = "Now perform the same with the following input"


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _decode_after(text: str, marker: str) -> Any:
    idx = text.find(marker)
    if idx < 0:
        return None
    start = text.find("{", idx + len(marker))
    if start < 0:
        return None
    try:
        value, _ = _DECODER.raw_decode(text, start)
    except ValueError:
        return None
    return value


def schema_title(body: dict[str, Any]) -> str | None:
    """The title of the output schema a chat request asks for."""
    for tool in body.get("tools") or []:
        name = (tool.get("function") or {}).get("name")
        if name:
            return str(name)
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema") or {}
        title = (spec.get("schema") or {}).get("title") or spec.get("name")
        if title:
            return str(title)
    for message in body.get("messages") or []:
        text = _message_text(message)
        for marker in _SCHEMA_MARKERS:
            schema = _decode_after(text, marker)
            if isinstance(schema, dict) and schema.get("title"):
                return str(schema["title"])
    return None


def prompt_input(body: dict[str, Any]) -> dict[str, Any]:
    """The input JSON of the ragas prompt (first user message that carries one)."""
    for message in body.get("messages") or []:
        if message.get("role") != "user":
            continue
        text = _message_text(message)
        idx = text.rfind(_INPUT_MARKER)
        if idx < 0:
            continue
        value = _decode_after(text[idx:], "input:")
        if isinstance(value, dict):
            return value
    # The advisor's narrative prompt carries its facts after this marker.
    for message in body.get("messages") or []:
        text = _message_text(message)
        idx = text.find("Diagnosis (JSON):")
        if idx >= 0:
            value = _decode_after(text[idx:], "Diagnosis (JSON):")
            if isinstance(value, dict):
                return value
    # ragas' translation prompt lists the strings as a JSON array.
    for message in body.get("messages") or []:
        text = _message_text(message)
        idx = text.find("Statements to translate:")
        if idx >= 0:
            start = text.find("[", idx)
            try:
                value, _ = _DECODER.raw_decode(text, start)
            except ValueError:
                continue
            return {"statements": value}
    # A free-text prompt (a job's own metric): the prompt itself, and the output schema,
    # whose allowed values the answer must keep to.
    prompt = "\n".join(
        _message_text(m) for m in body.get("messages") or [] if m.get("role") == "user"
    )
    return {"prompt": prompt, "schema": output_schema(body) or {}} if prompt else {}


def output_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of the output a chat request asks for, wherever the client put it:
    a tool's parameters, ``response_format``, Bedrock's ``toolConfig``, or a message."""
    candidates: list[Any] = [
        (tool.get("function") or {}).get("parameters") for tool in body.get("tools") or []
    ]
    candidates.append(((body.get("response_format") or {}).get("json_schema") or {}).get("schema"))
    candidates += [
        ((tool.get("toolSpec") or {}).get("inputSchema") or {}).get("json")
        for tool in (body.get("toolConfig") or {}).get("tools") or []
    ]
    for message in body.get("messages") or []:
        text = _message_text(message)
        candidates += [_decode_after(text, marker) for marker in _SCHEMA_MARKERS]
    return next((c for c in candidates if isinstance(c, dict) and c.get("properties")), None)


# --------------------------------------------------------------------------- #
# Stats and failure rules
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class JudgeStats:
    """A snapshot of what the judge has seen."""

    total_calls: int
    chat_calls: int
    embedding_calls: int
    calls_by_title: dict[str, int]
    max_in_flight: int
    in_flight: int
    concurrency_rejections: int
    injected_failures: int
    prompt_tokens: int
    completion_tokens: int
    # Summed time from taking a request to having sent its answer: the judge's own
    # service time, the honest basis of an "ideal" schedule in benchmarks.
    busy_seconds: float


@dataclass
class _FailureRule:
    kind: str
    remaining: int
    retry_after: float | None
    titles: frozenset[str] | None
    endpoint: str
    status: int

    def matches(self, endpoint: str, title: str | None) -> bool:
        if self.endpoint != "any" and self.endpoint != endpoint:
            return False
        return self.titles is None or title in self.titles


@dataclass
class _Counters:
    total_calls: int = 0
    chat_calls: int = 0
    embedding_calls: int = 0
    calls_by_title: Counter[str] = field(default_factory=Counter)
    max_in_flight: int = 0
    in_flight: int = 0
    concurrency_rejections: int = 0
    injected_failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    busy_seconds: float = 0.0


# --------------------------------------------------------------------------- #
# Server
# --------------------------------------------------------------------------- #


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    judge: ScriptedJudge

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or disconnect are part of the game; stay quiet.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every response on loopback.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.judge._track_connection(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.judge._track_connection(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.endswith("/v1/models"):
            data = [{"id": "scripted-judge", "object": "model", "owned_by": "tests"}]
            self._send_json(200, {"object": "list", "data": data})
        elif path.endswith("/stats"):
            # For a judge in another process (benchmarks): what stats() returns in-process.
            self._send_json(200, asdict(self.server.judge.stats()))
        else:
            self._send_error(404, f"Unknown path {self.path}", "invalid_request_error")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send_error(400, "Request body is not valid JSON", "invalid_request_error")
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.endswith("/chat/completions"):
            self.server.judge._handle(self, "chat", body)
        elif path.endswith("/embeddings"):
            self.server.judge._handle(self, "embeddings", body)
        else:
            self._send_error(404, f"Unknown path {self.path}", "invalid_request_error")

    # -- responses --------------------------------------------------------- #

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _send_error(
        self,
        status: int,
        message: str,
        err_type: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        error = {"message": message, "type": err_type, "param": None, "code": code}
        self._send_json(status, {"error": error}, headers)


class ScriptedJudge:
    """A loopback OpenAI-compatible server with scripted, content-sensitive answers.

    Usage::

        with ScriptedJudge(latency_s=0.05) as judge:
            client = AsyncOpenAI(base_url=judge.base_url, api_key="test")
            judge.fail_next("rate_limit", retry_after=0.01)
            ...
            judge.stats().calls_by_title
    """

    def __init__(
        self,
        latency_s: float = 0.0,
        max_concurrency: int | None = None,
        *,
        support_threshold: float = DEFAULT_SUPPORT_THRESHOLD,
        model_thresholds: dict[str, float] | None = None,
    ) -> None:
        self.latency_s = latency_s
        self.max_concurrency = max_concurrency
        self.support_threshold = support_threshold
        # A model named here answers with its own threshold: a lenient juror (low) or a
        # strict one (high) beside the others, as a jury of different models would be.
        self.model_thresholds = dict(model_thresholds or {})
        self.base_url: str | None = None
        self.port: int | None = None
        self._lock = threading.Lock()
        self._counters = _Counters()
        self._rules: list[_FailureRule] = []
        self._log: deque[tuple[str, str | None, int]] = deque(maxlen=500)
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------- #

    def start(self, port: int = 0) -> str:
        """Bind 127.0.0.1 (``port`` 0: an ephemeral one), serve in a thread."""
        if self._server is not None:
            raise RuntimeError("ScriptedJudge is already running")
        self._stopping.clear()
        server = _Server(("127.0.0.1", port), _Handler)
        server.judge = self
        self._server = server
        self.port = server.server_address[1]
        # A path of its own: a verdict cache keys answers by endpoint, and a port is reused
        # by later servers, which must not be answered with this one's verdicts.
        self.base_url = f"http://127.0.0.1:{self.port}/judge-{uuid.uuid4().hex[:12]}/v1"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"scripted-judge-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving, release hanging requests and drop open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedJudge:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- failure injection -------------------------------------------------- #

    def fail_next(
        self,
        kind: str,
        count: int = 1,
        retry_after: float | None = None,
        *,
        fail_titles: Iterable[str] | None = None,
        endpoint: str = "chat",
        status: int | None = None,
    ) -> None:
        """Make the next ``count`` matching requests fail.

        kind: "rate_limit" (429) and "server_error" (``status`` 500 by default, or e.g.
        503), both with a ``Retry-After`` header when ``retry_after`` is given; "hang" (no
        answer until ``stop()``); "garbage" (200 whose content is not JSON for the schema;
        for embeddings a body that is not JSON). ``fail_titles`` restricts chat failures
        to those schema titles; ``endpoint`` is "chat", "embeddings" or "any". Rules
        queue up and the first matching one is used.
        Note that the openai client retries 429/5xx itself (2 retries by default) and
        instructor retries unparseable output (4 attempts in all).
        """
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; expected one of {FAILURE_KINDS}")
        if endpoint not in ("chat", "embeddings", "any"):
            raise ValueError("endpoint must be 'chat', 'embeddings' or 'any'")
        if count < 1:
            raise ValueError("count must be >= 1")
        default_status = {"rate_limit": 429, "server_error": 500}.get(kind, 200)
        rule = _FailureRule(
            kind=kind,
            remaining=count,
            retry_after=retry_after,
            titles=frozenset(fail_titles) if fail_titles is not None else None,
            endpoint=endpoint,
            status=status or default_status,
        )
        with self._lock:
            self._rules.append(rule)

    def clear_failures(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def pending_failures(self) -> int:
        with self._lock:
            return sum(rule.remaining for rule in self._rules)

    # -- stats -------------------------------------------------------------- #

    def stats(self) -> JudgeStats:
        with self._lock:
            c = self._counters
            return JudgeStats(
                total_calls=c.total_calls,
                chat_calls=c.chat_calls,
                embedding_calls=c.embedding_calls,
                calls_by_title=dict(c.calls_by_title),
                max_in_flight=c.max_in_flight,
                in_flight=c.in_flight,
                concurrency_rejections=c.concurrency_rejections,
                injected_failures=c.injected_failures,
                prompt_tokens=c.prompt_tokens,
                completion_tokens=c.completion_tokens,
                busy_seconds=c.busy_seconds,
            )

    def reset_stats(self) -> None:
        with self._lock:
            in_flight = self._counters.in_flight
            self._counters = _Counters(in_flight=in_flight, max_in_flight=in_flight)
            self._log.clear()

    @property
    def total_calls(self) -> int:
        return self.stats().total_calls

    @property
    def calls_by_title(self) -> dict[str, int]:
        return self.stats().calls_by_title

    @property
    def embedding_calls(self) -> int:
        return self.stats().embedding_calls

    @property
    def max_in_flight(self) -> int:
        return self.stats().max_in_flight

    @property
    def request_log(self) -> list[tuple[str, str | None, int]]:
        """Recent requests as (endpoint, schema title, HTTP status), oldest first."""
        with self._lock:
            return list(self._log)

    # -- request handling --------------------------------------------------- #

    def _track_connection(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _handle(self, handler: _Handler, endpoint: str, body: dict[str, Any]) -> None:
        started = time.perf_counter()
        title = schema_title(body) if endpoint == "chat" else None
        with self._lock:
            c = self._counters
            c.total_calls += 1
            if endpoint == "chat":
                c.chat_calls += 1
                c.calls_by_title[title or "<none>"] += 1
            else:
                c.embedding_calls += 1
            c.in_flight += 1
            c.max_in_flight = max(c.max_in_flight, c.in_flight)
            over_cap = self.max_concurrency is not None and c.in_flight > self.max_concurrency
            rule = None
            if over_cap:
                c.concurrency_rejections += 1
            else:
                rule = next((r for r in self._rules if r.matches(endpoint, title)), None)
                if rule is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                    c.injected_failures += 1
        status = 0
        try:
            if over_cap:
                status = 429
                handler._send_error(
                    429,
                    f"Too many concurrent requests (limit {self.max_concurrency}).",
                    "requests",
                    "rate_limit_exceeded",
                )
                return
            if rule is not None and rule.kind == "hang":
                status = -1
                self._sleep(HANG_SECONDS)
                handler.close_connection = True
                return
            self._sleep(self.latency_s)
            if rule is not None:
                status = rule.status
                self._send_failure(handler, endpoint, body, title, rule)
            elif endpoint == "chat":
                status = self._answer_chat(handler, body, title)
            else:
                status = self._answer_embeddings(handler, body)
        finally:
            with self._lock:
                self._counters.in_flight -= 1
                self._counters.busy_seconds += time.perf_counter() - started
                self._log.append((endpoint, title, status))

    def _send_failure(
        self,
        handler: _Handler,
        endpoint: str,
        body: dict[str, Any],
        title: str | None,
        rule: _FailureRule,
    ) -> None:
        headers = {}
        if rule.retry_after is not None:
            value = rule.retry_after
            headers["Retry-After"] = str(int(value)) if value == int(value) else str(value)
        if rule.kind == "rate_limit":
            handler._send_error(
                rule.status,
                "Rate limit reached for requests (scripted).",
                "requests",
                "rate_limit_exceeded",
                headers,
            )
        elif rule.kind == "server_error":
            handler._send_error(
                rule.status,
                "The server had an error processing your request.",
                "server_error",
                headers=headers,
            )
        elif endpoint == "chat":  # garbage
            self._send_completion(handler, body, title, GARBAGE_CONTENT)
        else:
            handler._send_json(200, b'{"object": "list", "data": [garbage')

    def _answer_chat(self, handler: _Handler, body: dict[str, Any], title: str | None) -> int:
        if title is None:
            handler._send_error(
                400,
                "ScriptedJudge: no output JSON schema found in the request.",
                "invalid_request_error",
                "unknown_schema",
            )
            return 400
        answerer = ANSWERERS.get(title)
        if answerer is None:
            handler._send_error(
                400,
                f"ScriptedJudge has no scripted answer for schema title {title!r}. "
                f"Handled titles: {', '.join(HANDLED_TITLES)}.",
                "invalid_request_error",
                "unknown_schema",
            )
            return 400
        threshold = self.model_thresholds.get(str(body.get("model")), self.support_threshold)
        answer = answerer(prompt_input(body), threshold)
        self._send_completion(handler, body, title, json.dumps(answer, ensure_ascii=False))
        return 200

    def _send_completion(
        self, handler: _Handler, body: dict[str, Any], title: str | None, content: str
    ) -> None:
        prompt_tokens = sum(count_tokens(_message_text(m)) for m in body.get("messages") or [])
        completion_tokens = count_tokens(content)
        with self._lock:
            self._counters.prompt_tokens += prompt_tokens
            self._counters.completion_tokens += completion_tokens
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
        finish_reason = "stop"
        if body.get("tools"):
            tool_name = title or "unknown"
            message = {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {
                        "id": f"call_{uuid.uuid4().hex[:24]}",
                        "type": "function",
                        "function": {"name": tool_name, "arguments": content},
                    }
                ],
            }
            finish_reason = "tool_calls"
        payload = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model", "scripted-judge")),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "scripted-judge",
        }
        handler._send_json(200, payload)

    def _answer_embeddings(self, handler: _Handler, body: dict[str, Any]) -> int:
        raw = body.get("input")
        texts = [raw] if isinstance(raw, str) else raw
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            handler._send_error(
                400,
                "ScriptedJudge: 'input' must be a string or a list of strings.",
                "invalid_request_error",
            )
            return 400
        used = sum(count_tokens(text) for text in texts)
        with self._lock:
            self._counters.prompt_tokens += used
        data = [
            {"object": "embedding", "index": i, "embedding": embed(text)}
            for i, text in enumerate(texts)
        ]
        payload = {
            "object": "list",
            "data": data,
            "model": str(body.get("model", "scripted-embedding")),
            "usage": {"prompt_tokens": used, "total_tokens": used},
        }
        handler._send_json(200, payload)
        return 200


def main(argv: list[str] | None = None, judge_type: type[ScriptedJudge] | None = None) -> None:
    """Serve a judge until interrupted, printing its base URL (`judge_type`: a subclass)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--max-concurrency", type=int, default=None, help="429 above this")
    args = parser.parse_args(argv)
    judge = (judge_type or ScriptedJudge)(
        latency_s=args.latency, max_concurrency=args.max_concurrency
    )
    judge.start(args.port)
    print(judge.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        judge.stop()


if __name__ == "__main__":
    main()
