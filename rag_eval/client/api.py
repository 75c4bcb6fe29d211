"""The score-jobs API over HTTP, local or deployed: what `rag-eval submit | status | ...` use.

Standard library HTTP only. Authentication follows the endpoint: an API key (`x-api-key`)
when one is given; none on loopback (the local stack); otherwise SigV4 for `execute-api`
with the usual AWS credential chain (botocore, imported only then).
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from rag_eval.client.endpoint import checked_endpoint, is_loopback, not_the_api, reach_hint
from rag_eval.client.sigv4 import RequestNotSent, sigv4_headers
from rag_eval.client.upload import Progress, human_bytes, post_form, s3_error
from rag_eval.domain.states import FINAL_STATES

# Answers worth another try: throttled, or the service briefly unavailable.
_RETRYABLE = {429, 502, 503, 504}
# S3's InternalError too: a repeated upload only writes the same object again.
_RETRYABLE_UPLOAD = _RETRYABLE | {500}


class ApiError(Exception):
    """An error answer of the API, from its `{"error": {"code", "message", "details"}}` body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        url: str = "",
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.url = url
        super().__init__(f"{status} {code}: {message}")

    @classmethod
    def from_response(cls, status: int, body: bytes, url: str = "") -> ApiError:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        error = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(error, dict):
            details = error.get("details")
            return cls(
                status,
                str(error.get("code", f"http_{status}")),
                str(error.get("message", "")),
                details if isinstance(details, list) else [],
                url,
            )
        # Not in the service's error shape: a proxy or load balancer in front of the API.
        message = parsed.get("message") if isinstance(parsed, dict) else None
        text = message or body.decode("utf-8", "replace").strip() or f"HTTP {status}"
        return cls(status, f"http_{status}", str(text)[:500], url=url)

    @property
    def client_error(self) -> bool:
        return 400 <= self.status < 500

    def lines(self) -> list[str]:
        """One line per problem: `field: message (allowed: ...)`, else `code: message`."""
        if self.details:
            return describe_problems(self.details)
        line = f"{self.code}: {self.message}"
        if self.status == 403 and self.message == "Missing Authentication Token":
            # API Gateway's answer for a path it has no route for (or an unsigned request).
            line += (
                f" ({self.url}): no route there. The endpoint must be the API's base URL with "
                "its stage, e.g. http://127.0.0.1:3000/v1 locally or the stack's ApiUrl "
                "output (--endpoint or RAG_EVAL_ENDPOINT)"
            )
        return [line]


def describe_problems(problems: list[dict[str, Any]]) -> list[str]:
    """One line per problem; the same problem on many samples is one line that counts them
    (`300 samples (samples[0] .. samples[299]): user_input: unknown field ...`)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for problem in problems:
        field = str(problem.get("field", "body"))
        where, sep, rest = field.partition("].")
        key = (
            (rest, str(problem.get("message", "")), repr(problem.get("allowed")))
            if sep and where.startswith("samples[")
            else (field, repr(problem), "")
        )
        groups.setdefault(key, []).append(problem)
    lines = []
    for group in groups.values():
        first = group[0]
        if len(group) == 1:
            lines.append(describe_problem(first))
        else:
            fields = [str(p.get("field", "body")) for p in group]
            samples = [f.partition("].")[0] + "]" for f in fields]
            span = f"{samples[0]} .. {samples[-1]}" if len(samples) > 2 else ", ".join(samples)
            lines.append(
                f"{len(fields)} samples ({span}): "
                + describe_problem(first | {"field": fields[0].partition("].")[2]})
            )
    return lines


def describe_problem(problem: dict[str, Any]) -> str:
    allowed = problem.get("allowed")
    if allowed and not isinstance(allowed, str):
        allowed = ", ".join(str(item) for item in allowed)
    suffix = f" (allowed: {allowed})" if allowed else ""
    return f"{problem.get('field', 'body')}: {problem.get('message', '')}{suffix}"


class WaitTimeout(Exception):
    """The job was not finished in time; `job` is how it was last seen."""

    def __init__(self, job: dict[str, Any], timeout: float) -> None:
        self.job = job
        super().__init__(f"job {job.get('job_id')} still {job.get('status')} after {timeout:g} s")


class ScoreJobsClient:
    def __init__(
        self,
        endpoint: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
    ) -> None:
        self.endpoint = checked_endpoint(endpoint)
        self.api_key = api_key if api_key is not None else os.environ.get("RAG_EVAL_API_KEY")
        self.timeout = timeout
        self.retries = retries
        self._sign = not self.api_key and not is_loopback(self.endpoint)

    # -- the API ---------------------------------------------------------------------------

    def submit(self, body: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        # A POST is only repeated when the Idempotency-Key makes the repeat harmless.
        return self._call("POST", "/score-jobs", body, headers, retry=bool(idempotency_key))

    def get_job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/score-jobs/{job_id}")

    def list_jobs(
        self, limit: int | None = None, cursor: str | None = None, status: str | None = None
    ) -> dict[str, Any]:
        query = {
            name: value
            for name, value in (("limit", limit), ("cursor", cursor), ("status", status))
            if value is not None
        }
        return self._call("GET", "/score-jobs" + (f"?{urlencode(query)}" if query else ""))

    def iter_jobs(
        self, limit: int | None = None, status: str | None = None, cursor: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every job, newest first, following the cursors page by page."""
        while True:
            page = self.list_jobs(limit, cursor, status)
            yield from page["jobs"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Stop a queued or running job; the job as it is then (cancelled, or still running
        while its shards in flight finish). ApiError 409 once it has completed or failed."""
        # A repeated cancel answers as the first did, so a lost answer may be asked again.
        return self._call("POST", f"/score-jobs/{quote(job_id, safe='')}/cancel", retry=True)

    def create_upload(self, filename: str, size_bytes: int | None = None) -> dict[str, Any]:
        """A presigned POST for one dataset file: upload_id, url, fields, expires_in, max_bytes.

        With size_bytes, a file over the service's limit is refused here, before it is sent.
        """
        body: dict[str, Any] = {"filename": filename}
        if size_bytes is not None:
            body["size_bytes"] = size_bytes
        # An upload nobody sends a file to just expires: asking twice costs nothing.
        return self._call("POST", "/uploads", body, retry=True)

    def artifacts(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/score-jobs/{job_id}/artifacts")

    def metrics(self) -> dict[str, Any]:
        return self._call("GET", "/metrics")

    def compare(self, job_id: str, baseline: str) -> dict[str, Any]:
        """The comparison of two of the caller's runs; `status` "pending" until the worker
        has written it (ask again), then "ready" with it."""
        return self._call(
            "GET", f"/score-jobs/{job_id}/compare?{urlencode({'baseline': baseline})}"
        )

    # -- built on it -----------------------------------------------------------------------

    def download_artifacts(self, job_id: str, directory: Path) -> list[Path]:
        """Fetch the run's files through their presigned URLs into directory/<key>."""
        links = self.artifacts(job_id)
        saved = []
        for file in links["files"].values():
            target = Path(directory) / file["key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.fetch(file["url"]))
            saved.append(target)
        return saved

    def upload_file(self, path: Path | str, on_progress: Progress | None = None) -> str:
        """Send a dataset file to the service's bucket; its upload_id, for a submission's
        `{"dataset": {"upload_id": ...}}`. on_progress(sent, total) counts its bytes (from 0
        again if a failed attempt is retried)."""
        path = Path(path)
        size = path.stat().st_size
        upload = self.create_upload(path.name, size)
        limit = upload.get("max_bytes")
        if limit and size > limit:
            raise ApiError(413, "EntityTooLarge", _too_large(path.name, size, limit))
        attempts = self.retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                status, answer = post_form(
                    upload["url"],
                    upload["fields"],
                    path,
                    timeout=self.timeout,
                    on_progress=on_progress,
                )
            except (OSError, http.client.HTTPException) as exc:
                if last or isinstance(exc, ConnectionRefusedError):
                    raise RequestNotSent(
                        f"cannot upload {path.name} to {urlsplit(upload['url']).netloc}: {exc}"
                    ) from None
                time.sleep(_backoff(attempt, None))
                continue
            if 200 <= status < 300:
                return upload["upload_id"]
            if status not in _RETRYABLE_UPLOAD or last:
                raise _upload_refused(status, answer, path.name, size, upload)
            time.sleep(_backoff(attempt, None))
        raise AssertionError("unreachable")

    def fetch(self, url: str) -> bytes:
        """GET a presigned URL (it carries its own signature: no auth is added)."""
        return self._send(urllib.request.Request(url, method="GET"), retry=True, api=False)

    def wait(
        self,
        job_id: str,
        timeout: float = 600.0,
        on_update: Callable[[dict[str, Any]], None] | None = None,
        poll_interval: float = 0.5,
        max_interval: float = 5.0,
    ) -> dict[str, Any]:
        """Poll the job until it ends (completed, failed, cancelled); WaitTimeout after
        `timeout` s."""
        deadline = time.monotonic() + timeout
        interval = poll_interval
        while True:
            job = self.get_job(job_id)
            if on_update:
                on_update(job)
            if job["status"] in FINAL_STATES:
                return job
            if time.monotonic() >= deadline:
                raise WaitTimeout(job, timeout)
            time.sleep(max(0.0, min(interval, deadline - time.monotonic())))
            interval = min(interval * 1.5, max_interval)

    # -- HTTP ------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        retry: bool | None = None,
    ) -> dict[str, Any]:
        url = self.endpoint + path
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        all_headers = {"Accept": "application/json", "User-Agent": "rag-eval-client/0.1"}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        if self.api_key:
            all_headers["x-api-key"] = self.api_key
        elif self._sign:
            all_headers.update(sigv4_headers(method, url, data, all_headers))
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
        answer = self._send(request, retry=method == "GET" if retry is None else retry)
        try:
            return json.loads(answer) if answer else {}
        except ValueError:
            raise not_the_api(url, 200, answer, aws=False) from None

    def _send(self, request: urllib.request.Request, retry: bool, api: bool = True) -> bytes:
        """The answer's body; `api`: the request is the API's (not a presigned URL's)."""
        attempts = self.retries + 1 if retry else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return response.read()
            except urllib.error.HTTPError as exc:
                body = exc.read()
                if api and body.lstrip().startswith(b"<"):  # XML or HTML: not the API
                    aws = "x-amzn-requestid" in {k.lower() for k in exc.headers}
                    raise not_the_api(request.full_url, exc.code, body, aws) from None
                if exc.code not in _RETRYABLE or last:
                    raise ApiError.from_response(exc.code, body, request.full_url) from None
                time.sleep(_backoff(attempt, exc.headers.get("Retry-After")))
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                reason = getattr(exc, "reason", exc)
                # Refused: nothing listens there (not started, wrong port); waiting won't help.
                if last or isinstance(reason, ConnectionRefusedError):
                    raise RequestNotSent(
                        f"cannot reach {request.full_url}: {reason}. {reach_hint(self.endpoint)}"
                    ) from None
                time.sleep(_backoff(attempt, None))
        raise AssertionError("unreachable")


def _too_large(filename: str, size: int, limit: int) -> str:
    return f"{filename} is {human_bytes(size)}: over the upload limit of {human_bytes(limit)}"


def _upload_refused(
    status: int, answer: bytes, filename: str, size: int, upload: dict[str, Any]
) -> ApiError:
    """S3's XML refusal as an ApiError a person can act on."""
    error = s3_error(answer)
    code = error.get("Code") or f"http_{status}"
    said = error.get("Message") or answer.decode("utf-8", "replace").strip()[:500]
    if code == "EntityTooLarge":
        limit = int(error.get("MaxSizeAllowed") or upload.get("max_bytes") or 0)
        message = _too_large(filename, size, limit) if limit else f"{filename} is too large"
    elif code == "EntityTooSmall":
        message = f"{filename} is empty: there is nothing to score"
    elif code == "AccessDenied" and "expired" in said.lower():
        message = (
            f"the upload URL expired before {filename} was sent (it is valid "
            f"{upload.get('expires_in', '?')} s): run the command again"
        )
    else:
        message = f"S3 refused the upload of {filename}: {said or f'HTTP {status}'}"
    return ApiError(status, code, message, url=upload["url"])


def _backoff(attempt: int, retry_after: str | None) -> float:
    if retry_after:
        try:
            return min(float(retry_after), 30.0)
        except ValueError:
            pass
    return min(0.5 * 2**attempt, 8.0)
