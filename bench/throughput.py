"""Throughput of the job plumbing: jobs per second through submit -> completed, and where
the time of a job goes (API, queue, worker, S3, DynamoDB).

    .venv/bin/python -m bench.throughput --jobs 50 --worker-concurrency 1 2

No judge: one sample per job, the model-free metrics only, so what is measured is the
plumbing (API handler, SQS, the worker's handler, its S3 and DynamoDB calls), not scoring.
Everything runs on one LocalStack in this process (moto, the API front, the queue poller
and the worker handler), the stack `rag-eval local start` runs.

For each worker concurrency (pollers = Lambda's concurrent worker invocations):

- burst: `--jobs` POSTs one after another from one client thread, as fast as it goes;
  jobs/s = jobs / (first POST -> last job completed);
- one at a time: `--serial` jobs, each submitted once the previous one completed, for the
  path of one job on an idle stack (no backlog in the queue).

Where the time goes comes from botocore's `provide-client-params` and `after-call` event
hooks on the stack's boto3 clients (rag_eval.adapters.aws.clients.aws_client and the
poller's SQS client): each call's duration, its thread (the API front's request threads or
the worker's poller) and its job (from the call's parameters). The worker's scoring time is
the job's `latency_ms`. AWS here is moto in this same process: its calls cost what moto costs on
loopback (a few ms), not what DynamoDB and S3 cost (~5-10 ms and ~20-50 ms a call).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from bench.common import samples, table
from rag_eval.metrics import MODEL_FREE_METRICS


@dataclass
class Call:
    service: str
    operation: str
    thread: str
    job_id: str | None
    started: float
    ended: float = 0.0

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    @property
    def worker(self) -> bool:
        # The run folder's uploads run on a small thread pool of the worker's.
        uploads = self.service == "s3" and self.operation == "PutObject"
        return self.thread.startswith("local-poller") or uploads


def _job_of(service: str, operation: str, params: dict) -> str | None:
    if service == "dynamodb":
        for name in ("Key", "Item"):
            value = params.get(name, {}).get("job_id", {}).get("S")
            if value:
                return value
    elif service == "sqs" and operation == "SendMessage":
        try:
            return json.loads(params["MessageBody"])["job_id"]
        except (KeyError, ValueError, TypeError):
            return None
    elif service == "s3" and "Key" in params:
        # score-async/<run_id>/<file> with run_id = <time>-<job_id>; score-requests/<job_id>.json
        parts = params["Key"].split("/")
        if parts[0] == "score-async" and len(parts) > 1:
            return parts[1].rsplit("-", 1)[-1]
        if parts[0] == "score-requests":
            return parts[-1].removesuffix(".json")
    return None


@dataclass
class CallRecorder:
    """Every boto3 call of the stack's clients, timed by botocore's event hooks."""

    calls: list[Call] = field(default_factory=list)
    completed: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self._lock)

    def attach(self, client) -> None:
        service = client.meta.service_model.service_name
        events = client.meta.events
        events.register("provide-client-params.*.*", self._before(service))
        events.register("after-call.*.*", self._after)

    def _before(self, service: str):
        def hook(params, model, context, **_):
            context["bench_call"] = Call(
                service,
                model.name,
                threading.current_thread().name,
                _job_of(service, model.name, params),
                time.perf_counter(),
            )
            if model.name == "UpdateItem":
                values = params.get("ExpressionAttributeValues", {})
                context["bench_completes"] = any(
                    v == {"S": "completed"} for v in values.values() if isinstance(v, dict)
                )

        return hook

    def _after(self, context, http_response, **_):
        call = context.get("bench_call")
        if call is None:
            return
        call.ended = time.perf_counter()
        with self._changed:
            self.calls.append(call)
            if context.get("bench_completes") and http_response.status_code == 200:
                self.completed[call.job_id] = call.ended
                self._changed.notify_all()

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self.calls)

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self.completed.clear()

    def wait_completed(self, job_ids: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not job_ids <= set(self.completed):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = len(job_ids - set(self.completed))
                    raise TimeoutError(f"{missing} jobs not completed after {timeout} s")
                self._changed.wait(left)


def _body() -> dict:
    return {"samples": samples(1), "metrics": list(MODEL_FREE_METRICS)}


def run(client, recorder: CallRecorder, jobs: int, serial: bool) -> dict:
    """Submit `jobs` jobs (all at once, or each after the previous completed); timings."""
    recorder.clear()
    posts: dict[str, tuple[float, float]] = {}
    first = time.perf_counter()
    for _ in range(jobs):
        started = time.perf_counter()
        job_id = client.submit(_body())["job_id"]
        posts[job_id] = (started, time.perf_counter())
        if serial:
            recorder.wait_completed({job_id}, timeout=120)
    submitted = time.perf_counter()
    recorder.wait_completed(set(posts), timeout=60 + 5 * jobs)
    last = max(recorder.completed[j] for j in posts)
    calls = recorder.snapshot()
    items = {job_id: client.get_job(job_id) for job_id in posts}
    failed = [j for j, item in items.items() if item["status"] != "completed"]
    if failed:
        raise RuntimeError(f"{len(failed)} jobs not completed: {items[failed[0]]}")
    return _breakdown(posts, calls, items, first, submitted, last)


def _breakdown(posts, calls, items, first, submitted, last) -> dict:
    by_job: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        if call.job_id in posts:
            by_job[call.job_id].append(call)
    parts: dict[str, list[float]] = defaultdict(list)
    for job_id, (post_start, post_end) in posts.items():
        job_calls = sorted(by_job[job_id], key=lambda c: c.started)
        api = [c for c in job_calls if not c.worker]
        worker = [c for c in job_calls if c.worker]
        sent = next(c for c in api if c.operation == "SendMessage")
        parts["POST round trip"].append(post_end - post_start)
        parts["  API: DynamoDB PutItem"].append(
            sum(c.seconds for c in api if c.service == "dynamodb")
        )
        parts["  API: SQS SendMessage"].append(sent.seconds)
        # From the send's start: in this one process the poller may receive the message
        # before the API's SendMessage call has returned.
        parts["queue (SendMessage called -> worker's first call)"].append(
            worker[0].started - sent.started
        )
        handler = worker[-1].ended - worker[0].started
        parts["worker handler (first -> last call)"].append(handler)
        parts["  worker: DynamoDB (get, start, complete)"].append(
            sum(c.seconds for c in worker if c.service == "dynamodb")
        )
        uploads = [c for c in worker if c.service == "s3"]
        parts["  worker: S3 (5 PutObject side by side, first start -> last end)"].append(
            max(c.ended for c in uploads) - min(c.started for c in uploads)
        )
        parts["  worker: scoring + advice (latency_ms)"].append(items[job_id]["latency_ms"] / 1000)
        parts["submit -> completed"].append(worker[-1].ended - post_start)
    pollers = [c for c in calls if c.worker and c.service == "sqs"]
    deletes = [c for c in pollers if c.operation == "DeleteMessageBatch"]
    if deletes:
        parts["poller: SQS DeleteMessageBatch"] = [c.seconds for c in deletes]
    jobs = len(posts)
    return {
        "jobs": jobs,
        "seconds": last - first,
        "jobs_per_s": jobs / (last - first),
        "submit_per_s": jobs / (submitted - first),
        "parts": {name: (statistics.median(v), statistics.mean(v)) for name, v in parts.items()},
        "worker_busy": sum(parts["worker handler (first -> last call)"]) / (last - first),
    }


def measure(concurrency: int, jobs: int, serial_jobs: int) -> tuple[dict, dict]:
    from rag_eval.adapters.aws.clients import aws_client
    from rag_eval.client import ScoreJobsClient
    from rag_eval.local.stack import LocalStack

    with LocalStack(
        port=0,
        moto_port=0,
        visibility_timeout=60,
        parameters={"LogLevel": "WARNING"},
        worker_concurrency=concurrency,
        wait_time_seconds=1,
    ) as stack:
        recorder = CallRecorder()
        for service in ("dynamodb", "sqs", "s3"):
            recorder.attach(aws_client(service))
        for poller in stack._pollers:  # the SQS event source's own client
            recorder.attach(poller._sqs)
        client = ScoreJobsClient(stack.endpoint, timeout=60)
        # Warm: the worker's first job imports ragas; one per poller, so each has its own
        # warm execution environment.
        warm = [client.submit(_body()).job_id for _ in range(2 * concurrency)]
        recorder.wait_completed(set(warm), timeout=300)
        serial = run(client, recorder, serial_jobs, serial=True)
        burst = run(client, recorder, jobs, serial=False)
        return serial, burst


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50, help="jobs in the burst")
    parser.add_argument("--serial", type=int, default=10, help="jobs one at a time")
    parser.add_argument("--worker-concurrency", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    # No judge: model-free metrics need none, and the advice stays rule-based.
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_API_KEY_PARAMETER"):
        os.environ.pop(name, None)
    results = {k: measure(k, args.jobs, args.serial) for k in args.worker_concurrency}

    rows = []
    for k, (serial, burst) in results.items():
        for name, r in (("one at a time", serial), ("burst", burst)):
            rows.append(
                [
                    k,
                    name,
                    r["jobs"],
                    r["seconds"],
                    r["jobs_per_s"],
                    r["submit_per_s"],
                    r["worker_busy"],
                ]
            )
    print(f"one sample per job, metrics {', '.join(MODEL_FREE_METRICS)}; no judge")
    print(
        table(
            [
                "worker concurrency",
                "submission",
                "jobs",
                "first POST -> last completed s",
                "jobs/s",
                "POSTs/s",
                "worker busy (sum of handler time / span)",
            ],
            rows,
        )
    )
    for k, (serial, burst) in results.items():
        print()
        print(f"where a job's time goes, worker concurrency {k} (ms, median / mean)")
        names = list(serial["parts"])
        print(
            table(
                ["part", "one at a time", "burst"],
                [
                    [
                        name,
                        _ms(serial["parts"].get(name)),
                        _ms(burst["parts"].get(name)),
                    ]
                    for name in names
                ],
            )
        )


def _ms(pair: tuple[float, float] | None) -> str:
    if pair is None:
        return "-"
    return f"{pair[0] * 1000:.1f} / {pair[1] * 1000:.1f}"


if __name__ == "__main__":
    main()
