"""The OpenAI-compatible judge: the real `openai` client, pointed at OPENAI_BASE_URL.

Retries: the openai client retries 429 / 5xx / connection errors itself with
exponential backoff and honours `Retry-After`; we set how many times.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
from openai import AsyncOpenAI, OpenAI
from ragas.embeddings.base import BaseRagasEmbedding
from ragas.llms import llm_factory

from rag_eval.models import TokenUsage
from rag_eval.settings import Settings

_METERED_PATHS = ("/chat/completions", "/embeddings")


class OpenAICompatible:
    """One job's clients for an OpenAI-compatible endpoint, metering tokens as they pass."""

    def __init__(self, settings: Settings, usage: TokenUsage) -> None:
        self._settings = settings
        self._usage = usage
        self._lock = threading.Lock()
        self.async_client = AsyncOpenAI(
            **self._client_args(),
            http_client=httpx.AsyncClient(event_hooks={"response": [self._ameter]}),
        )
        self._sync: OpenAI | None = None

    def _client_args(self) -> dict[str, Any]:
        return {
            "base_url": self._settings.openai_base_url or None,
            # Local servers (Ollama, vLLM) accept any key; the client insists on one.
            "api_key": self._settings.openai_api_key or "not-needed",
            "max_retries": self._settings.max_retries,
            "timeout": self._settings.metric_timeout_seconds,
        }

    def sync_client(self) -> OpenAI:
        with self._lock:
            if self._sync is None:
                self._sync = OpenAI(
                    **self._client_args(),
                    http_client=httpx.Client(event_hooks={"response": [self._meter]}),
                )
            return self._sync

    def llm(self, model: str) -> Any:
        return llm_factory(model, client=self.async_client)

    def embeddings(self, model: str) -> BaseRagasEmbedding:
        return DualClientEmbeddings(self, model)

    def _record(self, response: httpx.Response) -> None:
        if response.status_code != 200 or not response.request.url.path.endswith(_METERED_PATHS):
            return
        usage = response.json().get("usage") or {}
        with self._lock:
            self._usage.add(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)

    async def _ameter(self, response: httpx.Response) -> None:
        await response.aread()
        self._record(response)

    def _meter(self, response: httpx.Response) -> None:
        response.read()
        self._record(response)

    async def aclose(self) -> None:
        await self.async_client.close()
        if self._sync is not None:
            self._sync.close()


class DualClientEmbeddings(BaseRagasEmbedding):
    """Embeddings with a sync and an async client.

    ragas 0.4.3's SemanticSimilarity calls the sync `embed_text` from inside `ascore`;
    with an async-only client that runs on a throwaway event loop and poisons the
    connection pool. Sync calls get their own client; async calls share the job's.
    """

    def __init__(self, clients: OpenAICompatible, model: str) -> None:
        super().__init__()
        self._clients = clients
        self.model = model

    def embed_text(self, text: str, **kwargs: Any) -> list[float]:
        response = self._clients.sync_client().embeddings.create(
            input=text, model=self.model, **kwargs
        )
        return response.data[0].embedding

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
