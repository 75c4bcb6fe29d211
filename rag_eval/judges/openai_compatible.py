"""The OpenAI-compatible judge: the real `openai` client, pointed at OPENAI_BASE_URL.

Its requests pass the job's gate in the HTTP transport (`GatedTransport`): cache, budget,
ledger, and the adaptive concurrency limit, which also handles 429s: it waits as long as
`Retry-After` says (or backs off), halves the requests in flight, and asks again, for as
long as the metric's timeout allows, so a rate-limited judge slows a job instead of
failing its metrics. 5xx and connection errors are the openai client's to retry, with
exponential backoff, `max_retries` times (and 429 too with RAGAS_ADAPTIVE_CONCURRENCY off).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import ssl
import time
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import httpx
from openai import AsyncOpenAI
from ragas.embeddings.base import BaseRagasEmbedding
from ragas.llms import llm_factory
from ragas.llms.base import InstructorBaseRagasLLM

from rag_eval.domain.settings import Settings
from rag_eval.judges.gate import JudgeGate

_GATED_PATHS = ("/chat/completions", "/embeddings")
# Headers of the answer as read, not as sent: the body handed on is decoded already.
_TRANSFER_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}
MAX_BACKOFF_SECONDS = 30.0


@cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every job's client. Without it httpx loads the CA bundle for
    each new client: ~25 ms of CPU twice a job (scoring, then the advice narrative)."""
    return httpx.create_ssl_context()


class OpenAICompatible:
    """One job's client for an OpenAI-compatible endpoint, its requests through the gate.

    Created inside the job's event loop; every request, sync or async, goes through
    its one connection pool, whose size is the judge's concurrency cap.
    """

    def __init__(self, settings: Settings, gate: JudgeGate) -> None:
        cap = max(1, settings.max_concurrency)
        self.loop = asyncio.get_running_loop()
        base_url = settings.openai_base_url or "https://api.openai.com/v1"
        inner = httpx.AsyncHTTPTransport(
            verify=tls_context(),
            # HTTP/1.1 sends one request per connection: at most `cap` in flight,
            # however many metric calls are ready to send one.
            limits=httpx.Limits(max_connections=cap, max_keepalive_connections=cap),
        )
        self.async_client = AsyncOpenAI(
            base_url=settings.openai_base_url or None,
            # Local servers (Ollama, vLLM) accept any key; the client insists on one.
            api_key=settings.openai_api_key or "not-needed",
            max_retries=settings.max_retries,
            timeout=settings.metric_timeout_seconds,
            # openai 3.x annotates httpx2's client only, yet takes httpx's at run time
            # (`is_legacy_httpx_async_client`), which GatedTransport is written for.
            http_client=httpx.AsyncClient(  # type: ignore[arg-type]
                transport=GatedTransport(inner, gate, _provider(base_url))
            ),
        )

    def llm(self, model: str) -> InstructorBaseRagasLLM:
        return llm_factory(model, client=self.async_client)

    def embeddings(self, model: str) -> BaseRagasEmbedding:
        return JobEmbeddings(self, model)

    async def aclose(self) -> None:
        await self.async_client.close()


def _provider(base_url: str) -> str:
    """The endpoint as part of a cache key: two servers' "llama3" are two models."""
    parts = urlsplit(base_url)
    return f"openai:{parts.netloc}{parts.path.rstrip('/')}"


class GatedTransport(httpx.AsyncBaseTransport):
    """Chat and embedding requests through the job's gate; anything else straight on."""

    def __init__(self, inner: httpx.AsyncBaseTransport, gate: JudgeGate, provider: str) -> None:
        self._inner = inner
        self._gate = gate
        self._provider = provider

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or not request.url.path.endswith(_GATED_PATHS):
            return await self._inner.handle_async_request(request)
        body = json.loads(request.content or b"{}")
        # The model as asked for (prices are keyed so), not the dated snapshot that answered.
        model = str(body.get("model") or "")
        embedding = request.url.path.endswith("/embeddings")
        # The openai client numbers its attempts: a retry after a 5xx is the same asking.
        retry = request.headers.get("x-stainless-retry-count", "0") != "0"
        key = self._gate.key(self._provider, body, repeatable=embedding, retry=retry)
        # The store and the budget may be a network away (DynamoDB): off the event loop.
        cached = await self._gate.off_loop(self._gate.lookup, key)
        if cached is not None:
            self._gate.hit(model, *_tokens(cached))
            self._gate.heard(_structured(cached))
            return _answer(request, 200, {"content-type": "application/json"}, cached)
        await self._gate.off_loop(self._gate.admit, retry)
        response, content = await self._send(request)
        if response.status_code == 200:
            await self._gate.off_loop(self._gate.answered, key, content, model, *_tokens(content))
            if not embedding:
                self._gate.heard(_structured(content))
        return _answer(request, response.status_code, response.headers, content)

    async def _send(self, request: httpx.Request) -> tuple[httpx.Response, bytes]:
        limit = self._gate.limit
        attempt = 0
        while True:
            sent_in = await limit.acquire()
            throttled = False
            try:
                response = await self._inner.handle_async_request(request)
                content = await response.aread()
                await response.aclose()
                throttled = response.status_code == 429
            finally:
                await limit.release(sent_in, throttled)
            if not throttled:
                return response, content
            self._gate.throttled()
            if not self._gate.adaptive:
                return response, content  # the openai client's retries take it from here
            await asyncio.sleep(_retry_delay(response.headers, attempt))
            attempt += 1

    async def aclose(self) -> None:
        await self._inner.aclose()


def _tokens(content: bytes) -> tuple[int, int]:
    try:
        usage = json.loads(content).get("usage") or {}
    except (ValueError, AttributeError):
        return 0, 0
    return usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0


def _structured(content: bytes) -> Any:
    """The structured answer of a chat completion: its JSON content (instructor's JSON
    mode), or its tool call's arguments; None when it is neither."""
    try:
        message = json.loads(content)["choices"][0]["message"]
        calls = message.get("tool_calls") or []
        text = calls[0]["function"]["arguments"] if calls else message.get("content")
        return json.loads(text or "")
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _answer(request: httpx.Request, status: int, headers: Any, content: bytes) -> httpx.Response:
    kept = [(k, v) for k, v in httpx.Headers(headers).multi_items() if k not in _TRANSFER_HEADERS]
    return httpx.Response(status, headers=kept, content=content, request=request)


def _retry_delay(headers: httpx.Headers, attempt: int) -> float:
    """How long the judge asks us to wait (`retry-after-ms`, `Retry-After` in seconds or as
    a date), else exponential backoff with jitter; never more than MAX_BACKOFF_SECONDS."""
    delay = None
    try:
        if "retry-after-ms" in headers:
            delay = float(headers["retry-after-ms"]) / 1000
        elif "retry-after" in headers:
            value = headers["retry-after"]
            try:
                delay = float(value)
            except ValueError:
                when = email.utils.parsedate_to_datetime(value)
                delay = when.timestamp() - time.time()
    except (ValueError, TypeError):
        delay = None
    if delay is None or delay < 0:
        delay = 0.5 * 2 ** min(attempt, 6) * (0.5 + random.random())
    return min(delay, MAX_BACKOFF_SECONDS)


class JobEmbeddings(BaseRagasEmbedding):
    """Embeddings on the job's client, for ragas' sync and async callers alike.

    ragas 0.4.3's SemanticSimilarity calls the sync `embed_text` inside `ascore`; the
    scorer runs it in a worker thread, and the request is handed to the job's loop, so
    it shares the connection pool (and its cap) instead of opening another.
    """

    def __init__(self, clients: OpenAICompatible, model: str) -> None:
        super().__init__()
        self._clients = clients
        self.model = model

    def embed_text(self, text: str, **kwargs: Any) -> list[float]:
        try:
            on_loop = asyncio.get_running_loop() is self._clients.loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            raise RuntimeError("sync embed_text called on the job's event loop; use a thread")
        future = asyncio.run_coroutine_threadsafe(
            self.aembed_text(text, **kwargs), self._clients.loop
        )
        return future.result()

    async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
        response = await self._clients.async_client.embeddings.create(
            input=text, model=self.model, **kwargs
        )
        return response.data[0].embedding

    async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        # One request for the batch instead of one per text.
        response = await self._clients.async_client.embeddings.create(
            input=texts, model=self.model, **kwargs
        )
        return [item.embedding for item in sorted(response.data, key=lambda d: d.index)]
