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
from typing import Any, cast
from urllib.parse import quote, urlencode, urlsplit

from pydantic import BaseModel, ValidationError

from rag_eval.app.announce import WebhookSecret
from rag_eval.app.answers import (
    ArtifactLinks,
    ComparisonPending,
    ComparisonReady,
    Estimate,
    JobPage,
    LabelPage,
    LabelQueue,
    LabelsStored,
    MetricCatalogue,
    SubmittedJob,
    UploadTicket,
)
from rag_eval.app.routes import ROUTE, Route
from rag_eval.client.endpoint import checked_endpoint, is_loopback, not_the_api, reach_hint
from rag_eval.client.errors import ApiError, WaitTimeout
from rag_eval.client.sigv4 import RequestNotSent, sigv4_headers
from rag_eval.client.upload import Progress, human_bytes, post_form, s3_error
from rag_eval.domain.job import JobStatus
from rag_eval.domain.labels import HumanLabel
from rag_eval.domain.states import FINAL_STATES
from rag_eval.domain.suites import SuitePage, SuiteRuns

# Answers worth another try: throttled, or the service briefly unavailable.
_RETRYABLE = {429, 502, 503, 504}
# S3's InternalError too: a repeated upload only writes the same object again.
_RETRYABLE_UPLOAD = _RETRYABLE | {500}


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

    # -- the API: each call a route of the table (rag_eval/app/routes.py), each answer the
    # -- model the route has for its status (rag_eval/app/answers.py) ---------------------

    def submit(self, body: dict[str, Any], idempotency_key: str | None = None) -> SubmittedJob:
        """Queue a job (202). Its estimate, with nothing created, is `estimate`."""
        if body.get("dry_run") is True:
            raise ValueError("a dry run is estimate(body): submit(body) queues the job")
        return self._submission(body, idempotency_key, SubmittedJob)

    def estimate(self, body: dict[str, Any]) -> Estimate:
        """What scoring `body` would cost and take (a dry run, 200): nothing is created."""
        return self._submission(body | {"dry_run": True}, None, Estimate)

    def _submission[A: SubmittedJob | Estimate](
        self, body: dict[str, Any], idempotency_key: str | None, expected: type[A]
    ) -> A:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        # A POST is only repeated when the Idempotency-Key makes the repeat harmless.
        route = ROUTE["submitScoreJob"]
        answer = self._call(route, {}, body, headers, retry=bool(idempotency_key))
        if not isinstance(answer, expected):  # the other of the route's two answers
            status = 200 if isinstance(answer, Estimate) else 202
            raise not_the_api(self.endpoint + route.path, status, b"", aws=False)
        return answer

    def get_job(self, job_id: str) -> JobStatus:
        return cast(JobStatus, self._call(ROUTE["getScoreJob"], {"job_id": job_id}))

    def list_jobs(
        self, limit: int | None = None, cursor: str | None = None, status: str | None = None
    ) -> JobPage:
        query = {
            name: value
            for name, value in (("limit", limit), ("cursor", cursor), ("status", status))
            if value is not None
        }
        return cast(JobPage, self._call(ROUTE["listScoreJobs"], {}, query=query))

    def iter_jobs(
        self, limit: int | None = None, status: str | None = None, cursor: str | None = None
    ) -> Iterator[JobStatus]:
        """Every job, newest first, following the cursors page by page."""
        while True:
            page = self.list_jobs(limit, cursor, status)
            yield from page.jobs
            cursor = page.next_cursor
            if not cursor:
                return

    def cancel(self, job_id: str) -> JobStatus:
        """Stop a queued or running job; the job as it is then (cancelled, or still running
        while its shards in flight finish). ApiError 409 once it has completed or failed."""
        # A repeated cancel answers as the first did, so a lost answer may be asked again.
        path = {"job_id": quote(job_id, safe="")}
        return cast(JobStatus, self._call(ROUTE["cancelScoreJob"], path, retry=True))

    def create_upload(self, filename: str, size_bytes: int | None = None) -> UploadTicket:
        """A presigned POST for one dataset file: upload_id, url, fields, expires_in, max_bytes.

        With size_bytes, a file over the service's limit is refused here, before it is sent.
        """
        body: dict[str, Any] = {"filename": filename}
        if size_bytes is not None:
            body["size_bytes"] = size_bytes
        # An upload nobody sends a file to just expires: asking twice costs nothing.
        return cast(UploadTicket, self._call(ROUTE["createUpload"], {}, body, retry=True))

    def artifacts(self, job_id: str) -> ArtifactLinks:
        return cast(ArtifactLinks, self._call(ROUTE["getScoreJobArtifacts"], {"job_id": job_id}))

    def metrics(self) -> MetricCatalogue:
        return cast(MetricCatalogue, self._call(ROUTE["listMetrics"], {}))

    def webhook_secret(self) -> WebhookSecret:
        return cast(WebhookSecret, self._call(ROUTE["getWebhookSecret"], {}))

    def compare(self, job_id: str, baseline: str) -> ComparisonReady | ComparisonPending:
        """The comparison of two of the caller's runs; `status` "pending" until the worker
        has written it (ask again), then "ready" with it."""
        answer = self._call(
            ROUTE["compareScoreJobs"], {"job_id": job_id}, query={"baseline": baseline}
        )
        return cast(ComparisonReady | ComparisonPending, answer)

    def post_labels(self, job_id: str, labels: list[dict[str, Any]]) -> LabelsStored:
        """Store people's labels of the job's run (up to 1,000 a call): each
        {"sample_id", "metric", "value", "labeler"?, "note"?}, replacing the label of its
        (sample, metric, labeler). ApiError 422 names each problem, 409 before the run."""
        # Repeating it only writes the same labels again.
        path = {"job_id": quote(job_id, safe="")}
        body = {"labels": labels}
        return cast(LabelsStored, self._call(ROUTE["postScoreJobLabels"], path, body, retry=True))

    def labels(self, job_id: str, limit: int | None = None, cursor: str | None = None) -> LabelPage:
        """One page of the job's labels (`next_cursor` for the next); `iter_labels`: all."""
        query = {name: value for name, value in (("limit", limit), ("cursor", cursor)) if value}
        path = {"job_id": quote(job_id, safe="")}
        return cast(LabelPage, self._call(ROUTE["listScoreJobLabels"], path, query=query))

    def iter_labels(self, job_id: str) -> Iterator[HumanLabel]:
        """Every label of the job, page by page."""
        cursor = None
        while True:
            page = self.labels(job_id, cursor=cursor)
            yield from page.labels
            cursor = page.next_cursor
            if not cursor:
                return

    def label_queue(self, job_id: str, metric: str, n: int | None = None) -> LabelQueue:
        """The next `n` samples (default 10, up to 100) nobody has labelled on `metric`, in
        the order the queue drew them: their texts, the judge's view, and the draws'
        probabilities. The same answer until they are labelled: it draws nothing new."""
        query: dict[str, Any] = {"metric": metric} | ({"n": n} if n is not None else {})
        path = {"job_id": quote(job_id, safe="")}
        return cast(LabelQueue, self._call(ROUTE["getLabelQueue"], path, query=query))

    def suites(self, limit: int | None = None, cursor: str | None = None) -> SuitePage:
        """A page of the caller's suites, most recently run first."""
        query = {k: v for k, v in (("limit", limit), ("cursor", cursor)) if v is not None}
        return cast(SuitePage, self._call(ROUTE["listSuites"], {}, query=query))

    def suite(self, name: str, limit: int | None = None, cursor: str | None = None) -> SuiteRuns:
        """A page of the suite's runs, newest first, with the newest completed run's drift.
        ApiError 404 when none of the caller's jobs named it."""
        query = {k: v for k, v in (("limit", limit), ("cursor", cursor)) if v is not None}
        path = {"name+": quote(name, safe="/")}  # a greedy parameter: its slashes stay
        return cast(SuiteRuns, self._call(ROUTE["getSuite"], path, query=query))

    # -- built on it -----------------------------------------------------------------------

    def download_artifacts(self, job_id: str, directory: Path) -> list[Path]:
        """Fetch the run's files through their presigned URLs into directory/<key>."""
        links = self.artifacts(job_id)
        saved = []
        for file in links.files.values():
            target = Path(directory) / file.key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.fetch(file.url))
            saved.append(target)
        return saved

    def upload_file(self, path: Path | str, on_progress: Progress | None = None) -> str:
        """Send a dataset file to the service's bucket; its upload_id, for a submission's
        `{"dataset": {"upload_id": ...}}`. on_progress(sent, total) counts its bytes (from 0
        again if a failed attempt is retried)."""
        path = Path(path)
        size = path.stat().st_size
        upload = self.create_upload(path.name, size)
        limit = upload.max_bytes
        if limit and size > limit:
            raise ApiError(413, "EntityTooLarge", _too_large(path.name, size, limit))
        attempts = self.retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                status, answer = post_form(
                    upload.url,
                    upload.fields,
                    path,
                    timeout=self.timeout,
                    on_progress=on_progress,
                )
            except (OSError, http.client.HTTPException) as exc:
                if last or isinstance(exc, ConnectionRefusedError):
                    raise RequestNotSent(
                        f"cannot upload {path.name} to {urlsplit(upload.url).netloc}: {exc}"
                    ) from None
                time.sleep(_backoff(attempt, None))
                continue
            if 200 <= status < 300:
                return upload.upload_id
            if status not in _RETRYABLE_UPLOAD or last:
                raise _upload_refused(status, answer, path.name, size, upload)
            time.sleep(_backoff(attempt, None))
        raise AssertionError("unreachable")

    def fetch(self, url: str) -> bytes:
        """GET a presigned URL (it carries its own signature: no auth is added)."""
        return self._send(urllib.request.Request(url, method="GET"), retry=True, api=False)[1]

    def wait(
        self,
        job_id: str,
        timeout: float = 600.0,
        on_update: Callable[[JobStatus], None] | None = None,
        poll_interval: float = 0.5,
        max_interval: float = 5.0,
    ) -> JobStatus:
        """Poll the job until it ends (completed, failed, cancelled); WaitTimeout after
        `timeout` s."""
        deadline = time.monotonic() + timeout
        interval = poll_interval
        while True:
            job = self.get_job(job_id)
            if on_update:
                on_update(job)
            if job.status in FINAL_STATES:
                return job
            if time.monotonic() >= deadline:
                raise WaitTimeout(job, timeout)
            time.sleep(max(0.0, min(interval, deadline - time.monotonic())))
            interval = min(interval * 1.5, max_interval)

    # -- HTTP ------------------------------------------------------------------------------

    def _call(
        self,
        route: Route,
        path: dict[str, str],
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        query: dict[str, Any] | None = None,
        retry: bool | None = None,
    ) -> BaseModel:
        """The route's answer, read into the model its status has on the route."""
        method = route.method
        url = self.endpoint + route.path.format(**path) + (f"?{urlencode(query)}" if query else "")
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
        status, answer = self._send(request, retry=method == "GET" if retry is None else retry)
        model = route.model_of(status)
        try:
            if model is None:  # a status the route does not answer with: not the API
                raise ValueError(status)
            return model.model_validate(json.loads(answer) if answer else {})
        except (ValueError, ValidationError):
            raise not_the_api(url, status, answer, aws=False) from None

    def _send(
        self, request: urllib.request.Request, retry: bool, api: bool = True
    ) -> tuple[int, bytes]:
        """The answer's status and body; `api`: the request is the API's (not a presigned
        URL's)."""
        attempts = self.retries + 1 if retry else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return response.status, response.read()
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
    status: int, answer: bytes, filename: str, size: int, upload: UploadTicket
) -> ApiError:
    """S3's XML refusal as an ApiError a person can act on."""
    error = s3_error(answer)
    code = error.get("Code") or f"http_{status}"
    said = error.get("Message") or answer.decode("utf-8", "replace").strip()[:500]
    if code == "EntityTooLarge":
        limit = int(error.get("MaxSizeAllowed") or upload.max_bytes or 0)
        message = _too_large(filename, size, limit) if limit else f"{filename} is too large"
    elif code == "EntityTooSmall":
        message = f"{filename} is empty: there is nothing to score"
    elif code == "AccessDenied" and "expired" in said.lower():
        message = (
            f"the upload URL expired before {filename} was sent (it is valid "
            f"{upload.expires_in} s): run the command again"
        )
    else:
        message = f"S3 refused the upload of {filename}: {said or f'HTTP {status}'}"
    return ApiError(status, code, message, url=upload.url)


def _backoff(attempt: int, retry_after: str | None) -> float:
    if retry_after:
        try:
            return min(float(retry_after), 30.0)
        except ValueError:
            pass
    return min(0.5 * 2**attempt, 8.0)
