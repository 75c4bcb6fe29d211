"""`rag-eval review JOB [--metric M] [--labeler NAME]`: label a job's samples in the browser,
one at a time, in the order the label queue draws them.

A page on 127.0.0.1 and a small JSON proxy to the API: the page asks this process, and this
process asks the API with the client's own credentials (an API key, SigV4), so that the
browser never holds them. Only the page this command printed can use the proxy: its Host
must be this address and port (another site's name rebound to 127.0.0.1 is refused), each
/api call carries the session's random token (in the printed URL, never a cookie, so that
another site cannot make the browser send it), bodies are small JSON, and no answer lets
another origin read it (no CORS). The page is the package's own files, under a
Content-Security-Policy that lets it load nothing from anywhere else.
"""

from __future__ import annotations

import argparse
import hmac
import json
import re
import secrets
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rag_eval.cli.exits import EXIT_OK
from rag_eval.cli.jobs import add_client_arguments, api_client
from rag_eval.domain.errors import RequestInvalid
from rag_eval.domain.job import JobStatus
from rag_eval.domain.labels import LABELER_PATTERN, LABELER_RULE, MAX_LABELER_CHARS, parse_labels
from rag_eval.metrics import REGISTRY

LOOPBACK = "127.0.0.1"
TOKEN_HEADER = "X-Review-Token"
BATCH = 10  # samples the page asks for at a time: the queue's own default
# A label is a few hundred bytes, its note at most 1,000 characters: the page sends one
# label a request, so this bounds what a request may make this process read.
MAX_BODY_BYTES = 64 * 1024
# Path -> (package, file, type): a conversation is drawn by the report's own script.
ASSETS = {
    "/": ("rag_eval.cli", "review.html", "text/html; charset=utf-8"),
    "/review.js": ("rag_eval.cli", "review.js", "text/javascript; charset=utf-8"),
    "/review.css": ("rag_eval.cli", "review.css", "text/css; charset=utf-8"),
    "/conversation.js": ("rag_eval.report", "conversation.js", "text/javascript; charset=utf-8"),
    "/conversation.css": ("rag_eval.report", "conversation.css", "text/css; charset=utf-8"),
}
# The page's own script and styles, its own /api: nothing inline, nothing from elsewhere.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# Every answer: not cached (it is one person's session), its URL (with the token) never
# sent on as a referrer, its type never guessed.
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


class Refused(Exception):
    """A request the proxy answers itself: its status, code and message."""

    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []


class Review:
    """One review session: the job, the metric, who labels, and how many labels so far."""

    def __init__(self, client: Any, job_id: str, metric: str, labeler: str = "") -> None:
        self.client = client
        self.job_id = job_id
        self.metric = metric
        self.labeler = labeler
        self.token = secrets.token_urlsafe(32)
        self.stored = 0
        self._lock = threading.Lock()

    def session(self, query: dict[str, list[str]]) -> dict[str, Any]:
        return {"job_id": self.job_id, "metric": self.metric, "labeler": self.labeler}

    def queue(self, query: dict[str, list[str]]) -> dict[str, Any]:
        metric = (query.get("metric") or [self.metric])[0]
        said = (query.get("n") or [str(BATCH)])[0]
        if not said.isdigit():
            raise Refused(400, "invalid_request", f"n must be a whole number, not {said!r}")
        answer = self.client.label_queue(self.job_id, metric, int(said))
        _say(
            f"batch of {len(answer.samples)} sample(s) on {metric}: {answer.labelled} of "
            f"{answer.scored} scored samples labelled, {answer.answered} draw(s) answered"
        )
        return answer.model_dump(mode="json")

    def labels(self, body: Any) -> dict[str, Any]:
        """The page's labels, each given this session's labeler whatever the page said."""
        if not isinstance(body, dict) or not isinstance(body.get("labels"), list):
            raise Refused(400, "invalid_request", 'send {"labels": [...]}')
        given = [
            (item | {"labeler": self.labeler}) if isinstance(item, dict) else item
            for item in body["labels"]
        ]
        batch = parse_labels({"labels": given})  # the API's own check, said before sending
        answer = self.client.post_labels(
            self.job_id, [label.model_dump(exclude_defaults=True) for label in batch.labels]
        )
        with self._lock:
            self.stored += answer.stored
            total = self.stored
        for label in batch.labels:
            value = f"{label.value:g}" if isinstance(label.value, float) else label.value
            _say(f"labelled {label.sample_id} on {label.metric}: {value} ({total} so far)")
        return answer.model_dump(mode="json")

    def job(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """The job as the API has it: `corrected` moves as the worker reads new labels."""
        return self.client.get_job(self.job_id).model_dump(mode="json")


class ReviewServer(ThreadingHTTPServer):
    """The page and its proxy on 127.0.0.1 (`port` 0: a free one)."""

    daemon_threads = True

    def __init__(self, review: Review, port: int = 0) -> None:
        super().__init__((LOOPBACK, port), _Handler)
        self.review = review
        self.host = f"{LOOPBACK}:{self.server_address[1]}"
        self.origin = f"http://{self.host}"
        self.url = f"{self.origin}/?token={review.token}"
        self.gets: dict[str, Callable[[dict[str, list[str]]], dict[str, Any]]] = {
            "/api/session": review.session,
            "/api/queue": review.queue,
            "/api/job": review.job,
        }

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A page closed while it waited for an answer is no fault of the session's.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    server_version = "rag-eval-review"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        from rag_eval.client import ApiError, RequestNotSent

        url = urlsplit(self.path)
        try:
            self._check_origin()
            if not url.path.startswith("/api/"):
                return self._asset(url.path)
            self._check_token(url.query)
            query = parse_qs(url.query)
            if self.command == "POST" and url.path == "/api/labels":
                answer = self.server.review.labels(self._body())
            elif self.command == "GET" and url.path in self.server.gets:
                answer = self.server.gets[url.path](query)
            else:
                raise Refused(404, "not_found", f"no {self.command} {url.path}")
            self._answer(200, json.dumps(answer, ensure_ascii=False).encode(), "application/json")
        except Refused as exc:
            self._error(exc.status, exc.code, exc.message, exc.details)
        except RequestInvalid as exc:
            self._error(422, "invalid_request", "the label is not valid", exc.problems)
        except ApiError as exc:  # the API's own answer, passed on (a 5xx as the gateway's)
            status = exc.status if exc.client_error else 502
            self._error(status, exc.code, exc.message, exc.details)
        except RequestNotSent as exc:
            self._error(502, "unreachable", str(exc))

    def _check_origin(self) -> None:
        """The request is this page's: the Host is this server's address (a name another
        site rebound to loopback is not), and an Origin, when sent, is this server's."""
        if self.headers.get("Host") != self.server.host:
            raise Refused(421, "wrong_host", f"this server answers to {self.server.host} only")
        origin = self.headers.get("Origin")
        if origin is not None and origin != self.server.origin:
            raise Refused(403, "wrong_origin", "only the review page may call this server")

    def _check_token(self, query: str) -> None:
        given = self.headers.get(TOKEN_HEADER) or (parse_qs(query).get("token") or [""])[0]
        if not hmac.compare_digest(given.encode(), self.server.review.token.encode()):
            raise Refused(403, "bad_token", "open the URL rag-eval review printed")

    def _body(self) -> Any:
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise Refused(415, "unsupported_media_type", "send application/json")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise Refused(411, "length_required", "send a Content-Length")
        if int(length) > MAX_BODY_BYTES:
            raise Refused(413, "too_large", f"a request body holds {MAX_BODY_BYTES} bytes at most")
        try:
            return json.loads(self.rfile.read(int(length)))
        except ValueError:
            raise Refused(400, "invalid_json", "the body is not JSON") from None

    def _asset(self, path: str) -> None:
        if self.command == "GET" and path == "/favicon.ico":  # a browser asks; there is none
            return self._answer(204, b"", "image/x-icon")
        if self.command != "GET" or path not in ASSETS:
            raise Refused(404, "not_found", f"no {self.command} {path}")
        package, name, kind = ASSETS[path]
        body = (files(package) / "assets" / name).read_bytes()
        self._answer(200, body, kind, {"Content-Security-Policy": CSP})

    def _error(self, status: int, code: str, message: str, details: list[Any] | None = None):
        if self.command == "POST":
            self.close_connection = True  # its body may be left unread
        error = {"code": code, "message": message, "details": details or []}
        body = json.dumps({"error": error}, ensure_ascii=False).encode()
        self._answer(status, body, "application/json")

    def _answer(
        self, status: int, body: bytes, kind: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in (_HEADERS | {"Content-Type": kind} | (extra or {})).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # progress is said by the session; a request log would show the token


def _say(line: str) -> None:
    print(line, flush=True)


def judged_metrics(job: JobStatus) -> list[str]:
    """The job's metrics a judge scored, in the order it asked for them: a job's own
    metric always is; a built-in one when it needs the judge (none of the string metrics
    needs labels: their scores are what they are)."""
    asked = job.request_summary.get("metrics") or list(job.scores)
    return [
        str(metric)
        for metric in asked
        if metric not in job.skipped_metrics
        and (metric not in REGISTRY or REGISTRY[metric].needs_judge)
    ]


def cmd_review(args: argparse.Namespace) -> int:
    labeler = args.labeler or ""
    if len(labeler) > MAX_LABELER_CHARS or not re.fullmatch(LABELER_PATTERN, labeler):
        raise RequestInvalid([{"field": "--labeler", "message": LABELER_RULE}])
    client = api_client(args)
    metric = args.metric
    if not metric:
        judged = judged_metrics(client.get_job(args.job_id))
        if not judged:
            message = "the job has no metric a judge scored: there is nothing to label"
            raise RequestInvalid([{"field": "job_id", "message": message}])
        metric = judged[0]
    # Asked once before serving: a job without a run, or a metric it lacks, is the API's
    # error here, not a page that cannot load.
    first = client.label_queue(args.job_id, metric, 1)
    review = Review(client, args.job_id, metric, labeler)
    try:
        server = ReviewServer(review, args.port)
    except OSError as exc:
        message = f"cannot serve on {LOOPBACK}:{args.port}: {exc.strerror or exc}"
        raise RequestInvalid([{"field": "--port", "message": message}]) from None
    done = "" if first.samples else ": every one of them"
    counts = f"{first.labelled} of {first.scored} scored samples labelled{done}"
    _say(f"job {args.job_id}, {metric}: {counts}")
    _say(f"review it at {server.url}")
    _say("Ctrl-C stops it")
    if not args.no_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    _say(f"\nstored {review.stored} label(s) of job {args.job_id} on {metric}")
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    review = commands.add_parser(
        "review",
        help="label a job's samples in the browser, as the label queue draws them (a page "
        "on 127.0.0.1 that sends the labels through this command)",
    )
    review.add_argument("job_id")
    review.add_argument(
        "--metric", help="the metric to label (default: the job's first metric a judge scored)"
    )
    review.add_argument("--labeler", help="your name as the labels record it")
    review.add_argument(
        "--port", type=int, default=0, help="the page's port on 127.0.0.1 (default: a free one)"
    )
    review.add_argument(
        "--no-browser", action="store_true", help="print the page's URL, do not open it"
    )
    add_client_arguments(review, with_json=False)
    review.set_defaults(handler=cmd_review)
