"""A loopback Amazon Bedrock Runtime for offline tests of the Bedrock judge.

Speaks enough of the REST API for a real boto3 ``bedrock-runtime`` client pointed at it
(``endpoint_url`` or ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``):

* ``POST /model/{modelId}/converse``: answers with a ``toolUse`` block whose input is
  the scripted judge's content-sensitive answer for the tool's ``inputSchema`` title
  (``StatementGeneratorOutput``, ``NLIStatementOutput``, ...; see ``scripted_judge``),
  plus ``usage``. An unknown title is a 400 ``ValidationException`` naming it.
* ``POST /model/{modelId}/invoke``: embeddings, hashed bag-of-words vectors, in the
  Titan Text Embeddings shape, or the Cohere Embed shape for ``cohere.`` model ids.

Failures to inject: ``throttle(n)`` answers the next n requests with Bedrock's 429
``ThrottlingException``; ``answer_in_text(n)`` makes Converse answer prose (or, with
``with_json=True``, the JSON answer inside a text block) instead of using the tool.
Request signatures are not checked: any fake credentials do.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from .scripted_judge import (
    ANSWERERS,
    DEFAULT_SUPPORT_THRESHOLD,
    GARBAGE_CONTENT,
    count_tokens,
    embed,
    prompt_input,
)

_ROUTE = re.compile(r"^/model/(?P<model_id>[^/]+)/(?P<action>converse|invoke)$")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: BedrockStub


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Without it, Nagle's algorithm and delayed ACKs add ~40 ms per response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        route = _ROUTE.match(self.path.split("?", 1)[0])
        if route is None:
            self.send_error_shape(404, "UnknownOperationException", f"no route {self.path}")
            return
        self.server.stub.handle(self, route["action"], unquote(route["model_id"]), body)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def send_error_shape(self, status: int, code: str, message: str) -> None:
        """Bedrock's error shape: the code in x-amzn-ErrorType, the message in the body."""
        self.send_json(status, {"message": message}, {"x-amzn-ErrorType": code})


class BedrockStub:
    """A Bedrock Runtime on 127.0.0.1 (an ephemeral port), serving in a thread.

    >>> with BedrockStub() as stub:
    ...     client = boto3.client("bedrock-runtime", endpoint_url=stub.endpoint_url)
    """

    def __init__(self, support_threshold: float = DEFAULT_SUPPORT_THRESHOLD) -> None:
        self.support_threshold = support_threshold
        self.endpoint_url = ""
        # Requests seen, throttled ones included: "converse" / "invoke" / "throttled".
        self.calls: Counter[str] = Counter()
        self.models_seen: set[str] = set()
        self._throttle_left = 0
        self._text_left = 0
        self._text_with_json = False
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BedrockStub:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stub = self
        self.endpoint_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def throttle(self, times: int) -> None:
        """Answer the next `times` requests with 429 ThrottlingException."""
        with self._lock:
            self._throttle_left = times

    def answer_in_text(self, times: int, *, with_json: bool = False) -> None:
        """Make the next `times` Converse calls answer text instead of using the tool."""
        with self._lock:
            self._text_left = times
            self._text_with_json = with_json

    def handle(self, handler: _Handler, action: str, model_id: str, body: dict) -> None:
        with self._lock:
            self.models_seen.add(model_id)
            throttled = self._throttle_left > 0
            self._throttle_left -= throttled
            as_text = action == "converse" and not throttled and self._text_left > 0
            self._text_left -= as_text
            self.calls["throttled" if throttled else action] += 1
        if throttled:
            handler.send_error_shape(
                429, "ThrottlingException", "Too many requests, please wait before trying again."
            )
        elif action == "converse":
            self._converse(handler, body, as_text)
        else:
            self._invoke(handler, model_id, body)

    def _converse(self, handler: _Handler, body: dict, as_text: bool) -> None:
        spec = body["toolConfig"]["tools"][0]["toolSpec"]
        title = spec["inputSchema"]["json"].get("title")
        answerer = ANSWERERS.get(title)
        if answerer is None:
            handler.send_error_shape(
                400, "ValidationException", f"BedrockStub has no answer for schema {title!r}"
            )
            return
        answer = answerer(prompt_input(body), self.support_threshold)
        if not as_text:
            block = {
                "toolUse": {"toolUseId": "tooluse_stub", "name": spec["name"], "input": answer}
            }
        elif self._text_with_json:
            block = {"text": f"Here is the answer:\n```json\n{json.dumps(answer)}\n```"}
        else:
            block = {"text": GARBAGE_CONTENT}
        prompt = "\n".join(part.get("text", "") for part in body["messages"][0]["content"])
        input_tokens, output_tokens = count_tokens(prompt), count_tokens(json.dumps(answer))
        handler.send_json(
            200,
            {
                "output": {"message": {"role": "assistant", "content": [block]}},
                "stopReason": "end_turn" if as_text else "tool_use",
                "usage": {
                    "inputTokens": input_tokens,
                    "outputTokens": output_tokens,
                    "totalTokens": input_tokens + output_tokens,
                },
                "metrics": {"latencyMs": 1},
            },
        )

    def _invoke(self, handler: _Handler, model_id: str, body: dict) -> None:
        if model_id.startswith("cohere."):
            texts = body["texts"]
            payload: dict[str, Any] = {
                "id": "stub",
                "embeddings": [embed(text) for text in texts],
                "response_type": "embeddings_floats",
                "texts": texts,
            }
        else:
            texts = [body["inputText"]]
            payload = {"embedding": embed(texts[0]), "inputTextTokenCount": count_tokens(texts[0])}
        used = sum(count_tokens(text) for text in texts)
        handler.send_json(200, payload, {"X-Amzn-Bedrock-Input-Token-Count": str(used)})
