"""The Amazon Bedrock judge: ragas collections metrics over the Bedrock Runtime API.

ragas 0.4.3's own `llm_factory(provider="bedrock")` calls `client.messages.create` on
a boto3 client and fails, so the judge speaks the Converse API itself: structured
output is forced through a single tool whose input schema is the ragas response model.
Embeddings use InvokeModel (Amazon Titan Text Embeddings, or Cohere Embed).

Retries: botocore's adaptive mode backs off exponentially on throttling and 5xx and
slows the client's send rate after a throttle; `max_retries` sets how many times.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from ragas.embeddings.base import BaseRagasEmbedding
from ragas.llms.base import InstructorBaseRagasLLM

from rag_eval.domain.settings import Settings
from rag_eval.judges.gate import JudgeGate

ResponseModel = TypeVar("ResponseModel", bound=BaseModel)

# Bedrock's limit for one Cohere embed request.
_COHERE_BATCH = 96
# A tool name must match [a-zA-Z0-9_-]{1,64}.
_TOOL_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
_FENCED_JSON = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


class InvalidJudgeOutput(ValueError):
    """The judge answered, but not with the structure ragas asked for."""


def _gated(
    gate: JudgeGate,
    request: dict[str, Any],
    call: Callable[[dict[str, Any]], dict[str, Any]],
    repeatable: bool,
) -> dict[str, Any]:
    """`call(request)` through the job's gate: from the cache when it was asked before,
    else counted against the budget, asked, metered and stored. `call` answers a JSON-able
    dict with "inputTokens" / "outputTokens" counts."""
    key = gate.key("bedrock", request, repeatable=repeatable)
    model = f"bedrock:{request['modelId']}"  # as a request names it (prices are keyed so)
    cached = gate.lookup(key)
    if cached is not None:
        answer: dict[str, Any] = json.loads(cached)
        gate.hit(model, answer["inputTokens"], answer["outputTokens"])
        return answer
    gate.admit()
    answer = call(request)
    body = json.dumps(answer, ensure_ascii=False).encode("utf-8")
    gate.answered(key, body, model, answer["inputTokens"], answer["outputTokens"])
    return answer


class BedrockConverseLLM(InstructorBaseRagasLLM):
    """A ragas judge LLM over the Bedrock Converse API (any model with tool use)."""

    def __init__(
        self,
        model_id: str,
        client: Any,
        gate: JudgeGate,
        *,
        max_tokens: int = 1024,
        temperature: float = 0.01,
    ) -> None:
        self.model_id = model_id
        self.client = client
        self.gate = gate
        self.max_tokens = max_tokens
        self.temperature = temperature

    def generate(self, prompt: str, response_model: type[ResponseModel]) -> ResponseModel:
        return self._parse(self._converse(prompt, response_model), response_model)

    async def agenerate(self, prompt: str, response_model: type[ResponseModel]) -> ResponseModel:
        response = await asyncio.to_thread(self._converse, prompt, response_model)
        return self._parse(response, response_model)

    def _converse(self, prompt: str, response_model: type[BaseModel]) -> dict[str, Any]:
        tool_name = _TOOL_NAME_UNSAFE.sub("_", response_model.__name__)[:64]
        request = dict(
            modelId=self.model_id,
            messages=[{"role": "user", "content": [{"text": prompt}]}],
            inferenceConfig={"maxTokens": self.max_tokens, "temperature": self.temperature},
            toolConfig={
                "tools": [
                    {
                        "toolSpec": {
                            "name": tool_name,
                            "description": f"Record the answer as a {response_model.__name__}.",
                            "inputSchema": {"json": response_model.model_json_schema()},
                        }
                    }
                ],
                "toolChoice": {"tool": {"name": tool_name}},
            },
        )
        return _gated(self.gate, request, self._send, repeatable=False)

    def _send(self, request: dict[str, Any]) -> dict[str, Any]:
        response = self.client.converse(**request)
        usage = response.get("usage") or {}
        return {
            "output": response.get("output") or {},
            "stopReason": response.get("stopReason", "unknown"),
            "inputTokens": usage.get("inputTokens") or 0,
            "outputTokens": usage.get("outputTokens") or 0,
        }

    def _parse(
        self, response: dict[str, Any], response_model: type[ResponseModel]
    ) -> ResponseModel:
        content = (response.get("output") or {}).get("message", {}).get("content") or []
        stop_reason = response.get("stopReason", "unknown")
        tool_inputs = [block["toolUse"].get("input") for block in content if "toolUse" in block]
        text = "".join(block.get("text", "") for block in content)
        try:
            parsed = response_model.model_validate(
                tool_inputs[0] if tool_inputs else _json_in_text(text)
            )
            self.gate.heard(parsed.model_dump(mode="json"))
            return parsed
        except ValueError as exc:  # pydantic's ValidationError included
            shown = (json.dumps(tool_inputs[0]) if tool_inputs else text)[:120]
            raise InvalidJudgeOutput(
                f"{self.model_id} did not answer with a valid {response_model.__name__} "
                f"(stopReason={stop_reason}): {shown!r}"
            ) from exc


def _json_in_text(text: str) -> Any:
    """The JSON object in a text answer: bare, in a ``` fence, or between the outer braces."""
    candidates = [text.strip(), *_FENCED_JSON.findall(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    raise ValueError("no JSON object in the text answer")


def _is_cohere(model_id: str) -> bool:
    """Cohere Embed by model id, inference profile (`us.cohere...`) or ARN."""
    return re.match(r"^(?:[a-z]+\.)?cohere\.", model_id.rsplit("/", 1)[-1]) is not None


class BedrockEmbeddings(BaseRagasEmbedding):
    """Embeddings through InvokeModel: Amazon Titan Text Embeddings, or Cohere Embed."""

    def __init__(self, model_id: str, client: Any, gate: JudgeGate) -> None:
        super().__init__()
        self.model_id = model_id
        self.client = client
        self.gate = gate
        self._cohere = _is_cohere(model_id)

    def embed_text(self, text: str, **kwargs: Any) -> list[float]:
        if self._cohere:
            return self._cohere_embed([text])[0]
        # Titan v2 normalises by default; v1 rejects a "normalize" key.
        embedding: list[float] = self._invoke({"inputText": text})["body"]["embedding"]
        return embedding

    async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
        return await asyncio.to_thread(self.embed_text, text)

    def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        if self._cohere:
            return self._cohere_embed(texts)
        return super().embed_texts(texts)

    async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        if self._cohere:
            return await asyncio.to_thread(self._cohere_embed, texts)
        return await super().aembed_texts(texts)

    def _cohere_embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), _COHERE_BATCH):
            body = self._invoke(
                {"texts": texts[start : start + _COHERE_BATCH], "input_type": "search_document"}
            )["body"]
            embeddings = body["embeddings"]
            # Embed v3 answers a list of vectors; v4 answers {"float": [...]} by type.
            vectors.extend(embeddings["float"] if isinstance(embeddings, dict) else embeddings)
        return vectors

    def _invoke(self, payload: dict[str, Any]) -> dict[str, Any]:
        """InvokeModel through the gate: {"body": the model's answer, "inputTokens": ...}."""
        request = {"modelId": self.model_id, "payload": payload}
        return _gated(self.gate, request, self._send, repeatable=True)

    def _send(self, request: dict[str, Any]) -> dict[str, Any]:
        response = self.client.invoke_model(
            modelId=request["modelId"],
            body=json.dumps(request["payload"]),
            contentType="application/json",
            accept="application/json",
        )
        body = json.loads(response["body"].read())
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        count = headers.get("x-amzn-bedrock-input-token-count", body.get("inputTextTokenCount"))
        return {"body": body, "inputTokens": int(count or 0), "outputTokens": 0}


def bedrock_client(settings: Settings) -> Any:
    """A Bedrock Runtime client with adaptive retries and the per-metric read timeout.

    The region comes from settings, else boto3's default chain; the endpoint honours
    `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` / `AWS_ENDPOINT_URL` like any boto3 client.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        # botocore's "max_attempts" counts retries only; "total_max_attempts" counts all.
        retries={"mode": "adaptive", "total_max_attempts": settings.max_retries + 1},
        read_timeout=settings.metric_timeout_seconds,
        connect_timeout=5,
        # Metrics call concurrently from threads; botocore's default pool is 10.
        max_pool_connections=max(10, settings.max_concurrency),
    )
    return boto3.client("bedrock-runtime", region_name=settings.aws_region or None, config=config)


def build_bedrock_models(
    judge_model_id: str | None,
    embedding_model_id: str | None,
    settings: Settings,
    gate: JudgeGate,
    client: Any = None,
) -> tuple[BedrockConverseLLM | None, BedrockEmbeddings | None]:
    """The judge LLM and embeddings that were asked for, sharing one client."""
    if client is None and (judge_model_id or embedding_model_id):
        client = bedrock_client(settings)
    llm = BedrockConverseLLM(judge_model_id, client, gate) if judge_model_id else None
    embeddings = BedrockEmbeddings(embedding_model_id, client, gate) if embedding_model_id else None
    return llm, embeddings
