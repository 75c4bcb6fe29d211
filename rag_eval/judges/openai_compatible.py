"""The OpenAI-compatible judge: the real `openai` client, pointed at OPENAI_BASE_URL.

Retries: the openai client retries 429 / 5xx / connection errors itself with
exponential backoff and honours `Retry-After`; we set how many times.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from functools import cache
from typing import Any

import httpx
from openai import AsyncOpenAI
from ragas.embeddings.base import BaseRagasEmbedding
from ragas.llms import llm_factory

from rag_eval.domain.results import TokenUsage
from rag_eval.domain.settings import Settings

_METERED_PATHS = ("/chat/completions", "/embeddings")


@cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every job's client. Without it httpx loads the CA bundle for
    each new client: ~25 ms of CPU twice a job (scoring, then the advice narrative)."""
    return httpx.create_ssl_context()


class OpenAICompatible:
    """One job's client for an OpenAI-compatible endpoint, metering tokens as they pass.

    Created inside the job's event loop; every request, sync or async, goes through
    its one connection pool, whose size is the judge's concurrency cap.
    """

    def __init__(self, settings: Settings, usage: TokenUsage) -> None:
        self._usage = usage
        self._lock = threading.Lock()
        cap = max(1, settings.max_concurrency)
        self.loop = asyncio.get_running_loop()
        self.async_client = AsyncOpenAI(
            base_url=settings.openai_base_url or None,
            # Local servers (Ollama, vLLM) accept any key; the client insists on one.
            api_key=settings.openai_api_key or "not-needed",
            max_retries=settings.max_retries,
            timeout=settings.metric_timeout_seconds,
            http_client=httpx.AsyncClient(
                verify=tls_context(),
                # HTTP/1.1 sends one request per connection: at most `cap` in flight,
                # however many metric calls are ready to send one.
                limits=httpx.Limits(max_connections=cap, max_keepalive_connections=cap),
                event_hooks={"response": [self._meter]},
            ),
        )

    def llm(self, model: str) -> Any:
        return llm_factory(model, client=self.async_client)

    def embeddings(self, model: str) -> BaseRagasEmbedding:
        return JobEmbeddings(self, model)

    async def _meter(self, response: httpx.Response) -> None:
        if response.status_code == 429:  # the client waits and retries; operators count them
            with self._lock:
                self._usage.rate_limited += 1
            return
        if response.status_code != 200 or not response.request.url.path.endswith(_METERED_PATHS):
            return
        await response.aread()
        usage = response.json().get("usage") or {}
        # The model as asked for (prices are keyed so), not the dated snapshot that answered.
        model = json.loads(response.request.content or b"{}").get("model") or ""
        with self._lock:
            self._usage.add(
                usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0, model
            )

    async def aclose(self) -> None:
        await self.async_client.close()


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
