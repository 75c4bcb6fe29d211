"""Suites, events and webhooks on the local stack, as the README's "Suites and trends" and
"Events and webhooks" promise them: five weekly runs of one suite whose answers match the
references less each week, then `rag-eval suites | trend | gate --drift`; the events the
stack recorded for each job; and a job's webhook deliveries, signed, to a receiver here."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from rag_eval.local.stack import LocalStack
from testkit.scripted_judge import ScriptedJudge
from tests.support.loopback import LoopbackServer
from tests.support.stacks import judged_stack

pytestmark = pytest.mark.slow

RAG_EVAL = str(Path(sys.executable).with_name("rag-eval"))
SUITE = "team/weekly"
METRICS = ["exact_match", "chrf_score"]
FACTS = [
    ("What is the capital of France?", "Paris"),
    ("How many legs has a spider?", "Eight"),
    ("Which planet is called the red planet?", "Mars"),
    ("Which gas do plants take in to make sugar?", "Carbon dioxide"),
    ("Who wrote Hamlet?", "William Shakespeare"),
]
MISS = "The documents do not say."
WEEKS = len(FACTS)
STATES = ["queued", "running", "completed"]


def week_samples(week: int) -> list[dict[str, Any]]:
    """Week 0 answers every question with its reference; each week after, one more misses."""
    return [
        {
            "sample_id": f"q{i}",
            "question": question,
            "contexts": [f"The answer is {truth}."],
            "answer": truth if i < WEEKS - week else MISS,
            "ground_truth": truth,
        }
        for i, (question, truth) in enumerate(FACTS)
    ]


def rag_eval(stack: LocalStack, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`rag-eval ARGUMENTS` as a user runs it in a shell pointed at the stack."""
    return subprocess.run(
        [RAG_EVAL, *arguments],
        env={**os.environ, **stack.client_environment()},
        capture_output=True,
        text=True,
        timeout=240,
    )


def submit(stack: LocalStack, samples_file: Path, *placement: str) -> dict[str, Any]:
    """`rag-eval submit ... --wait --json`: the job as it ended."""
    done = rag_eval(
        stack,
        "submit",
        *("--file", str(samples_file), "--metrics", ",".join(METRICS)),
        *placement,
        *("--wait", "--timeout", "180", "--json"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    job: dict[str, Any] = json.loads(done.stdout)
    assert job["status"] == "completed", job
    return job


def recorded_events(stack: LocalStack, job_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The events the stack recorded for each job: every line of events.jsonl in its state
    folder, waiting (bounded) until each job's `completed` is in, which the worker records
    just after the job reads as completed."""
    assert stack.state_dir is not None
    path = stack.state_dir / "events.jsonl"
    deadline = time.monotonic() + 20
    while True:
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        found: dict[str, list[dict[str, Any]]] = {job_id: [] for job_id in job_ids}
        for line in lines:
            detail = json.loads(line["Detail"])
            if detail["job_id"] in found:
                found[detail["job_id"]].append(line | {"Detail": detail})
        ended = all(any(e["Detail"]["status"] == "completed" for e in f) for f in found.values())
        if ended or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Iterator[tuple[LocalStack, list[dict[str, Any]]]]:
    """GIVEN five runs of the suite, one a week, each answering one question fewer right,
    on a stack that keeps its state (and so its events) in a folder."""
    state = tmp_path_factory.mktemp("local-stack")
    files = tmp_path_factory.mktemp("weeks")
    with ScriptedJudge() as judge, judged_stack(judge, state_dir=state) as stack:
        jobs = []
        for week in range(WEEKS):
            samples_file = files / f"week-{week}.jsonl"
            lines = [json.dumps(sample) for sample in week_samples(week)]
            samples_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
            jobs.append(submit(stack, samples_file, "--suite", SUITE))
        yield stack, jobs


def test_the_runs_decline_week_after_week(suite) -> None:
    # The data is what the drift test is meant to find: every metric's means fall each week.
    _, jobs = suite

    means = {metric: [job["scores"][metric] for job in jobs] for metric in METRICS}

    assert means["exact_match"] == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2])
    chrf = means["chrf_score"]
    assert all(chrf[week] > chrf[week + 1] for week in range(WEEKS - 1)), means
    assert all(job["suite"] == SUITE for job in jobs)


def test_suites_lists_the_suite_with_its_five_runs(suite) -> None:
    stack, _ = suite

    listed = rag_eval(stack, "suites")

    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows[0] == ["suite", "runs", "last", "run"]
    assert [row[:2] for row in rows[1:]] == [[SUITE, str(WEEKS)]], listed.stdout


def test_trend_prints_each_metric_and_writes_its_page(suite, tmp_path) -> None:
    stack, jobs = suite
    page_file = tmp_path / "trend.html"

    done = rag_eval(stack, "trend", SUITE, "--out", str(page_file))

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"suite {SUITE}: {WEEKS} runs, ")
    assert lines[1].split() == ["metric", "latest", "(95%", "interval)", "change", "drift"]
    rows = {line.split()[0]: line for line in lines[2 : 2 + len(METRICS)]}
    assert sorted(rows) == sorted(METRICS)
    assert rows["exact_match"].split()[1] == "0.200", rows
    assert "-0.800 over 5 runs" in rows["exact_match"]
    assert all(row.rstrip().endswith("DECLINING") for row in rows.values()), rows
    for metric in METRICS:
        assert f"  ! {metric} is declining: " in done.stdout, done.stdout
    assert lines[-1] == f"written: {page_file}"
    page = page_file.read_text(encoding="utf-8")
    assert page.count("<svg") == len(METRICS)
    assert all(job["job_id"] in page for job in jobs)


def test_the_drift_gate_fails_the_newest_run_as_its_drift_says(suite, tmp_path) -> None:
    stack, jobs = suite
    newest = jobs[-1]["job_id"]

    status = rag_eval(stack, "status", newest, "--json")
    gated = rag_eval(stack, "gate", newest, "--drift", "--out", str(tmp_path))

    assert status.returncode == 0, status.stderr
    drift = json.loads(status.stdout)["drift"]
    assert sorted(drift) == sorted(METRICS)
    assert all(d["declining"] and d["runs"] == WEEKS for d in drift.values()), drift
    assert gated.returncode == 1, gated.stdout + gated.stderr
    assert gated.stdout.startswith("gate: FAIL: ")
    for metric in METRICS:
        assert f"{metric} is declining: " in gated.stdout, gated.stdout


def test_each_job_published_one_event_per_state(suite) -> None:
    stack, jobs = suite
    job_ids = [job["job_id"] for job in jobs]

    events = recorded_events(stack, job_ids)

    for job in jobs:
        job_id = job["job_id"]
        statuses = sorted(e["Detail"]["status"] for e in events[job_id])
        assert statuses == sorted(STATES), (job_id, statuses)
        for event in events[job_id]:
            assert event["source"] == "ragas-serverless"
            assert event["detail-type"] == "Score Job State Change"
            detail = event["Detail"]
            assert detail["event_id"] == f"{job_id}:{detail['status']}"
            assert detail["suite"] == SUITE
            assert detail["scores"] == (job["scores"] if detail["status"] == "completed" else {})


# The README's receiver, as a user copies it (README, "Events and webhooks").
def verify(secret, timestamp, body, signature, tolerance=300):
    """secret: from `rag-eval webhook-secret`; timestamp, signature: the X-Ragas-Timestamp
    and X-Ragas-Signature headers; body: the raw request body (bytes)."""
    if abs(time.time() - int(timestamp)) > tolerance:
        return False  # too old (or from the future): a replay
    message = str(timestamp).encode() + b"." + body
    expected = "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


class Receiver(LoopbackServer):
    """A webhook receiver on loopback: keeps each POST's path, headers (read whatever
    their case) and raw body."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, Message, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append((self.path, self.headers, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)


def test_a_jobs_webhook_gets_each_state_signed(suite, tmp_path) -> None:
    # GIVEN a receiver on this machine and the caller's secret
    stack, _ = suite
    secret_answer = rag_eval(stack, "webhook-secret", "--json")
    assert secret_answer.returncode == 0, secret_answer.stderr
    secret = json.loads(secret_answer.stdout)["secret"]
    samples_file = tmp_path / "samples.jsonl"
    samples_file.write_text(json.dumps(week_samples(0)[0]) + "\n", encoding="utf-8")

    with Receiver() as receiver:
        # WHEN a job that notifies it is submitted and runs to its end
        job_id = submit(stack, samples_file, "--notify", f"{receiver.base}/hook")["job_id"]
        deadline = time.monotonic() + 30
        while len(receiver.deliveries) < len(STATES) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # a copy too many would show
        deliveries = list(receiver.deliveries)

    # THEN the receiver got one delivery per state, each signed with the secret, each the
    # event the stack put on its bus
    bus = {e["Detail"]["event_id"]: e for e in recorded_events(stack, [job_id])[job_id]}
    assert sorted(json.loads(body)["status"] for _, _, body in deliveries) == sorted(STATES)
    for path, headers, body in deliveries:
        event = json.loads(body)
        assert path == "/hook"
        assert headers["X-Ragas-Event-Id"] == f"{job_id}:{event['status']}" == event["event_id"]
        timestamp, signature = headers["X-Ragas-Timestamp"], headers["X-Ragas-Signature"]
        assert verify(secret, timestamp, body, signature), headers
        assert not verify(secret, timestamp, body + b" ", signature)  # the body is what is signed
        assert not verify("not-the-secret", timestamp, body, signature)
        assert event == bus[event["event_id"]]["Detail"]
