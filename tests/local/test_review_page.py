"""`rag-eval review` in a real browser against the local stack: labels given with the keyboard
on the page reach the job, and the worker's corrected estimate moves with them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from rag_eval.client import ScoreJobsClient
from rag_eval.domain.trust import MetricTrust
from testkit.scripted_judge import ScriptedJudge
from tests.support.browser import chromium
from tests.support.stacks import judged_stack

pytestmark = pytest.mark.slow

SAMPLES_FILE = Path(__file__).parents[2] / "rag_eval" / "sample_data" / "samples.jsonl"
BUNDLED = [json.loads(line) for line in SAMPLES_FILE.read_text(encoding="utf-8").splitlines()]
# Four copies of the six bundled samples: ten labelled through the API, then a whole batch
# of ten on the page (the queue hands out only samples nobody has labelled).
SAMPLES = [s | {"sample_id": f"{s['sample_id']}-{c}"} for c in (1, 2, 3, 4) for s in BUNDLED]
METRIC = "faithfulness"


def until[T](read: Callable[[], T], done: Callable[[T], bool], timeout: float = 90.0) -> T:
    """`read()` again until `done` says so; its last value in the failure otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"still {value!r} after {timeout} s"
        time.sleep(0.5)


def started(process: subprocess.Popen[str]) -> str:
    """The page's URL, as the command prints it."""
    assert process.stdout is not None
    seen = []
    while line := process.stdout.readline():
        seen.append(line)
        if line.startswith("review it at "):
            return line.removeprefix("review it at ").strip()
    raise AssertionError(f"rag-eval review printed no URL: {seen}, {process.stderr}")


def test_labels_given_on_the_page_move_the_jobs_corrected_estimate(tmp_path) -> None:
    with ScriptedJudge() as judge, judged_stack(judge) as stack:
        # GIVEN a job of the bundled samples scored on faithfulness
        client = ScoreJobsClient(stack.endpoint)
        job_id = client.submit({"samples": SAMPLES, "metrics": [METRIC]}).job_id
        assert client.wait(job_id, timeout=120).status == "completed"
        # AND the queue's first ten samples labelled through the API, enough to correct
        first = client.label_queue(job_id, METRIC, 10)
        assert len(first.samples) == 10, first
        labels: list[dict[str, Any]] = [
            {
                "sample_id": s.sample_id,
                "metric": METRIC,
                "value": 1.0 if (s.judge.score or 0) >= 0.5 else 0.0,
                "labeler": "api",
            }
            for s in first.samples
        ]
        client.post_labels(job_id, labels)

        def trust() -> MetricTrust | None:
            return client.get_job(job_id).corrected.get(METRIC)

        before = until(trust, lambda t: t is not None and t.labelled_samples == 10)
        assert before is not None

        # WHEN the review page is opened and three samples are labelled with the keyboard
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "rag-eval"),
                "review",
                job_id,
                "--labeler",
                "browser",
                "--no-browser",
            ],
            env={**os.environ, **stack.client_environment()},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            url = started(process)
            with chromium() as browser:
                page = browser.new_page()
                errors: list[str] = []
                requests: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("request", lambda r: requests.append(r.url))
                page.goto(url)
                page.wait_for_selector("#sample:not([hidden])")
                status = page.locator("#status")
                shown = []
                # agree with the judge; 7 then Enter (0.7); = then Enter (the top, 1.0)
                for keys, count in ((["a"], 1), (["7", "Enter"], 2), (["=", "Enter"], 3)):
                    shown.append(page.locator("#sample-id").inner_text())
                    for key in keys:
                        page.keyboard.press(key)
                    expect(status).to_contain_text(f"({count} this session)")
                progress = page.locator("#progress").inner_text()
                # THEN the page said so, fetched only from its own server, and broke nothing
                assert "3 labelled · 7 left in this batch" in progress, progress
                assert status.inner_text().startswith(f"labelled {shown[-1]}: 1")
                assert all(r.startswith(url.split("/?")[0] + "/") for r in requests), requests
                assert errors == []
                # AND the job holds the three labels, by the command's labeler
                by_page = [lab for lab in client.iter_labels(job_id) if lab.labeler == "browser"]
                assert sorted(lab.sample_id for lab in by_page) == sorted(shown)
                assert {lab.sample_id: lab.value for lab in by_page}[shown[1]] == 0.7
                # AND the worker's corrected estimate counts them
                after = until(trust, lambda t: t is not None and t.labelled_samples == 13)
                assert after is not None and after.labels > before.labels
                assert after.corrected is not None
                # AND the page shows it, once it reads the job again
                expect(page.locator("#corrected")).to_contain_text("13 sample(s)", timeout=15_000)
                assert "Corrected:" in page.locator("#corrected").inner_text()
        finally:
            process.send_signal(signal.SIGINT)  # Ctrl-C
            out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert f"labelled {shown[0]} on {METRIC}: " in out
        assert f"stored 3 label(s) of job {job_id} on {METRIC}" in out
