"""One gate every judge and embedding request of a scoring passes, whichever the provider:
the verdict cache, the job's budget, the token ledger and the concurrency limit.

Below ragas on purpose: every metric benefits, and a cached answer is the judge's own
response, read by ragas exactly as the first time, so scores stay ragas' own.

A cache that cannot be read or written costs a judge call, never a metric: its errors are
logged and the request goes to the judge.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from rag_eval.domain.budget import JudgeBudget
from rag_eval.domain.pricing import ModelPrice, price_of
from rag_eval.domain.request import CacheMode
from rag_eval.domain.results import CacheReport, JudgeConcurrency, TokenUsage
from rag_eval.domain.verdicts import VerdictStore, request_key

logger = logging.getLogger(__name__)


class BudgetExhausted(RuntimeError):
    """The job's budget is reached: no new judge call starts."""


@dataclass
class _MetricCall:
    """One (sample, metric) call: how often each request was asked, and whether every
    answer is in the store (then the pair is marked as cached for dry runs)."""

    asked: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    all_stored: bool = True
    # The judge's structured answers, parsed: the evidence ragas computes the score from
    # and then drops (statements and verdicts, classifications...). By the order the
    # metric asked its questions, not the order the answers came (a metric that asks at
    # once gets them in any order): one list a question, its retries' answers in turn.
    answers: list[list[dict[str, Any]]] = field(default_factory=list)
    # What the judge's requests raised, even where ragas caught it and answered NaN
    # (its dual-judge metrics retry and then give up quietly): the reason to report.
    errors: list[BaseException] = field(default_factory=list)

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return [answer for asked in self.answers for answer in asked]

    def ask(self) -> int:
        """A place for the answers of the question about to be asked."""
        self.answers.append([])
        return len(self.answers) - 1


_CALL: ContextVar[_MetricCall | None] = ContextVar("rag_eval_metric_call", default=None)
# The place of the question the running request answers, in its metric call's `answers`.
_QUESTION: ContextVar[int | None] = ContextVar("rag_eval_question", default=None)


@contextmanager
def metric_call() -> Iterator[_MetricCall]:
    """The scope of one metric's `ascore`: repeated prompts inside it are told apart.

    A context variable: asyncio tasks and `asyncio.to_thread` copy it, so the requests a
    metric sends from its sub-tasks and threads are counted in the same call.
    """
    call = _MetricCall()
    token = _CALL.set(call)
    try:
        yield call
    finally:
        _CALL.reset(token)


def witness(llm: Any) -> None:
    """Make the ragas LLM note, in the metric call it serves, where each question stands
    among the call's questions (its answers are read back in that order), and each failed
    request, so a score ragas gives up on quietly is reported with the failure's reason.

    The place is taken when the metric asks, before anything is awaited: questions a
    metric sends at once from tasks it starts in order take their places in that order."""
    asked = llm.agenerate

    async def agenerate(*args: Any, **kwargs: Any) -> Any:
        call = _CALL.get()
        place = _QUESTION.set(call.ask() if call is not None else None)
        try:
            return await asked(*args, **kwargs)
        except Exception as exc:
            if call is not None:
                call.errors.append(exc)
            raise
        finally:
            _QUESTION.reset(place)

    # An attribute of this instance: ragas checks the LLM's class, so no wrapper object.
    llm.agenerate = agenerate


class AdaptiveLimit:
    """Judge requests in flight, at most `limit`: additive increase, multiplicative decrease.

    A 429 halves the limit, once per round of requests (those sent under the limit being
    cut), so one burst of refusals is one cut; each `limit` answers without a 429 add one
    slot back, up to the configured cap.
    """

    def __init__(self, cap: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.cap = max(1, cap)
        self.limit = self.cap
        self.lowest = self.cap
        self._clock = clock
        self._in_flight = 0
        self._round = 0
        self._answered = 0
        self._condition: asyncio.Condition | None = None
        self._started: float | None = None
        self._changed = 0.0
        self._area = 0.0  # integral of the limit over time, for its time-weighted mean

    async def acquire(self) -> int:
        """Wait for a slot; returns the round the request is sent in."""
        if self._condition is None:
            self._condition = asyncio.Condition()
        async with self._condition:
            await self._condition.wait_for(lambda: self._in_flight < self.limit)
            self._in_flight += 1
            if self._started is None:
                self._started = self._changed = self._clock()
            return self._round

    async def release(self, sent_in: int, throttled: bool) -> None:
        assert self._condition is not None
        async with self._condition:
            self._in_flight -= 1
            if throttled and sent_in == self._round:
                self._set(max(1, self.limit // 2))
                self._round += 1
                self._answered = 0
            elif not throttled:
                self._answered += 1
                if self._answered >= self.limit and self.limit < self.cap:
                    self._set(self.limit + 1)
                    self._answered = 0
            self._condition.notify_all()

    def _set(self, limit: int) -> None:
        now = self._clock()
        self._area += self.limit * (now - self._changed)
        self._changed, self.limit = now, limit
        self.lowest = min(self.lowest, limit)

    def report(self) -> JudgeConcurrency:
        if self._started is None:
            return JudgeConcurrency(configured=self.cap)
        now = self._clock()
        seconds = now - self._started
        area = self._area + self.limit * (now - self._changed)
        return JudgeConcurrency(
            configured=self.cap,
            effective=round(area / seconds, 2) if seconds > 0 else float(self.limit),
            lowest=self.lowest,
            seconds=round(seconds, 3),
        )


class JudgeGate:
    """A scoring's cache, budget, ledger and limit (one per shard, one per fan-in)."""

    def __init__(
        self,
        *,
        store: VerdictStore | None = None,
        mode: CacheMode = "use",
        budget: JudgeBudget | None = None,
        prices: dict[str, ModelPrice] | None = None,
        concurrency: int = 8,
        adaptive: bool = True,
    ) -> None:
        self._store = store if mode != "off" else None
        self._read = mode == "use"
        self._budget = budget
        self._prices = prices or {}
        self._lock = threading.Lock()
        self.adaptive = adaptive
        self.limit = AdaptiveLimit(concurrency)
        self.usage = TokenUsage()
        self.cache = CacheReport()
        self.exhausted = False

    async def off_loop[**P, R](self, call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """`call(*args)` in a thread when it may wait on the store or the budget; inline
        when it cannot (neither is there), sparing every request a thread hop."""
        if self._store is None and self._budget is None:
            return call(*args, **kwargs)
        return await asyncio.to_thread(call, *args, **kwargs)

    # -- the cache ----------------------------------------------------------------------

    def key(
        self, provider: str, request: Any, *, repeatable: bool = False, retry: bool = False
    ) -> str:
        """The request's cache key; a judge prompt's carries its occurrence in the metric
        call, an embedding's (`repeatable`) does not. A `retry` of a failed attempt is the
        same asking again: it keeps the occurrence of the attempt it repeats."""
        if repeatable:
            return request_key(provider, request, None)
        call = _CALL.get()
        occurrence = 0
        if call is not None:
            identity = request_key(provider, request, None)
            with self._lock:
                if retry and call.asked[identity]:
                    occurrence = call.asked[identity] - 1
                else:
                    occurrence = call.asked[identity]
                    call.asked[identity] += 1
        return request_key(provider, request, occurrence)

    def lookup(self, key: str) -> bytes | None:
        """The stored answer to this request (mode "use" only)."""
        if self._store is None or not self._read:
            return None
        try:
            return self._store.get(key)
        except Exception:
            logger.warning("verdict cache unreadable; asking the judge", exc_info=True)
            return None

    def hit(self, model: str, input_tokens: int, output_tokens: int) -> None:
        with self._lock:
            self.cache.hits += 1
            self.cache.saved.add(input_tokens, output_tokens, model)
            self._count_request(stored=True)

    # -- judge calls --------------------------------------------------------------------

    def admit(self, retry: bool = False) -> None:
        """Count a judge call against the budget before it starts; raises BudgetExhausted.
        A retry of a failed attempt was counted with it, but once the budget is spent no
        request goes out, a retry neither (the openai client retries a refusal too)."""
        if self.exhausted:
            raise BudgetExhausted("the job's budget is spent")
        if retry:
            return
        if self._budget is not None and not self._budget.reserve():
            self.exhausted = True
            raise BudgetExhausted("the job's budget is spent")

    def answered(
        self, key: str, body: bytes, model: str, input_tokens: int, output_tokens: int
    ) -> None:
        """A judge's successful answer: its tokens and dollars, and the answer stored."""
        with self._lock:
            self.cache.misses += 1
            self.usage.add(input_tokens, output_tokens, model)
        price = price_of(model, self._prices)
        if self._budget is not None and price is not None:
            self._budget.spend(price.dollars(input_tokens, output_tokens))
        stored = False
        if self._store is not None:
            try:
                self._store.put(key, body)
                stored = True
            except Exception:
                logger.warning("verdict cache unwritable; the answer is not kept", exc_info=True)
        with self._lock:
            self._count_request(stored=stored)

    def heard(self, output: Any) -> None:
        """A judge's structured answer (a dict of the response model's fields), kept for the
        metric call's evidence."""
        call, place = _CALL.get(), _QUESTION.get()
        if call is not None and isinstance(output, dict):
            with self._lock:
                if place is None:  # asked around the witnessed LLM: in the order it came
                    place = call.ask()
                call.answers[place].append(output)

    def throttled(self) -> None:
        with self._lock:
            self.usage.rate_limited += 1

    def _count_request(self, stored: bool) -> None:
        call = _CALL.get()
        if call is not None:
            call.requests += 1
            call.all_stored = call.all_stored and stored

    def mark_pair(self, key: str, call: _MetricCall) -> None:
        """Record that every request of a finished metric call is stored (dry runs' share)."""
        if self._store is None or not call.requests or not call.all_stored:
            return
        try:
            self._store.put(key, b"")
        except Exception:
            logger.warning("verdict cache unwritable; the pair is not marked", exc_info=True)
