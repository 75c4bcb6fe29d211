"""The judge-verdict cache: a second scoring of the same samples asks the judge nothing and
gives the same numbers; repeated prompts stay independent answers; refresh and off."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from rag_eval.adapters.local_files import DiskVerdictStore, LocalObjectStore
from rag_eval.app.pipeline import ScoringPipeline
from rag_eval.domain.job import JobStatus, new_job
from rag_eval.domain.request import parse_request
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState
from testkit.scripted_judge import ScriptedJudge, prompt_input

SAMPLES = [
    json.loads(line)
    for line in (Path(__file__).parents[2] / "rag_eval/sample_data/samples.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
]


def run_job(judge: ScriptedJudge, store: Any, root: Path, **options: Any) -> JobStatus:
    settings = Settings(openai_base_url=judge.base_url, openai_api_key="test", max_retries=1)
    request = parse_request({"samples": SAMPLES, **options})
    pipeline = ScoringPipeline(settings, LocalObjectStore(root), store)
    judge.reset_stats()
    return asyncio.run(pipeline.arun(new_job(request, settings), request))


@pytest.fixture
def store(tmp_path: Path):
    opened = DiskVerdictStore(tmp_path / "verdicts")
    yield opened
    opened.close()


def test_a_second_run_asks_the_judge_nothing_and_scores_the_same(
    judge: ScriptedJudge, store: DiskVerdictStore, tmp_path: Path
) -> None:
    # GIVEN the bundled samples scored once, with the cache on (the default)
    first = run_job(judge, store, tmp_path)
    first_calls = judge.total_calls

    # WHEN the same samples are scored again
    second = run_job(judge, store, tmp_path)

    # THEN the judge is not asked at all, and every number is the same
    assert first.status is second.status is JobState.COMPLETED
    assert first_calls > 0 and judge.total_calls == 0
    assert second.scores == first.scores
    assert second.weighted_score == first.weighted_score
    # AND the job says what the cache did: every request a hit, their tokens and dollars saved
    assert first.cache is not None and second.cache is not None
    assert (first.cache.hits, second.cache.misses) == (0, 0)
    assert second.cache.hits == first.cache.misses
    assert second.cache.saved.input_tokens == first.token_usage.input_tokens
    assert second.cache.saved.output_tokens == first.token_usage.output_tokens
    assert second.token_usage.requests == 0 and second.cost.total_usd == 0
    assert second.cost.saved_usd == first.cost.total_usd > 0


def test_refresh_asks_again_and_off_neither_reads_nor_writes(
    judge: ScriptedJudge, store: DiskVerdictStore, tmp_path: Path
) -> None:
    # GIVEN a first run with the cache off: nothing is kept
    off = run_job(judge, store, tmp_path, cache="off")
    calls = judge.total_calls
    assert off.cache.mode == "off" and off.cache.hits == 0
    assert list(store._cache.iterkeys()) == []

    # WHEN the samples are scored with refresh, then with use
    refreshed = run_job(judge, store, tmp_path, cache="refresh")
    refresh_calls = judge.total_calls
    used = run_job(judge, store, tmp_path, cache="use")

    # THEN refresh asked the judge everything again (and kept it), so use asks nothing
    assert refresh_calls == calls and refreshed.cache.hits == 0
    assert judge.total_calls == 0 and used.cache.hits == refreshed.cache.misses
    assert used.scores == refreshed.scores == off.scores


class VaryingJudge(ScriptedJudge):
    """Answers each asking of one answer-relevancy prompt with another question, as a
    sampling LLM would: ragas sends that prompt three times to average three questions."""

    QUESTIONS = ("What is the capital of France?", "Which city is largest in France?", "Why?")

    def __init__(self) -> None:
        super().__init__()
        self.asked: Counter[str] = Counter()
        self.answers: list[str] = []

    def _answer_chat(self, handler: Any, body: dict[str, Any], title: str | None) -> int:
        if title != "AnswerRelevanceOutput":
            return super()._answer_chat(handler, body, title)
        prompt = json.dumps(prompt_input(body), sort_keys=True)
        with self._lock:
            occurrence = self.asked[prompt]
            self.asked[prompt] += 1
        question = self.QUESTIONS[occurrence % len(self.QUESTIONS)]
        self.answers.append(question)
        answer = json.dumps({"question": question, "noncommittal": 0})
        self._send_completion(handler, body, title, answer)
        return 200


@pytest.mark.integration  # a server of its own on loopback
def test_repeated_prompts_are_cached_as_independent_answers(
    store: DiskVerdictStore, tmp_path: Path
) -> None:
    # GIVEN a judge that answers the three identical answer-relevancy prompts differently
    with VaryingJudge() as judge:
        body = {"metrics": ["answer_relevancy"]}
        first = run_job(judge, store, tmp_path, **body)
        assert len(set(judge.answers)) == 3  # three different answers were scored

        # WHEN the samples are scored again from the cache
        second = run_job(judge, store, tmp_path, **body)

    # THEN the cache answered all three askings, each with its own answer: the same score
    # (a cache that gave the first answer three times would give another number)
    assert judge.total_calls == 0
    assert second.scores == first.scores


def test_a_retried_request_is_cached_as_the_asking_it_repeats(
    judge: ScriptedJudge, store: DiskVerdictStore, tmp_path: Path
) -> None:
    # GIVEN a first run whose context recall request failed once (503) and was retried
    judge.fail_next(
        "server_error", status=503, retry_after=0.01, fail_titles={"ContextRecallOutput"}
    )
    first = run_job(judge, store, tmp_path, metrics=["context_recall"])
    assert first.metric_failures == {} and judge.stats().injected_failures == 1

    # WHEN the samples are scored again, with no failure
    second = run_job(judge, store, tmp_path, metrics=["context_recall"])

    # THEN the retried answer was kept as the first asking: nothing is asked again
    assert judge.total_calls == 0 and second.scores == first.scores
