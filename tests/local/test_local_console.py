"""What a person reads on the console of `rag-eval local start`: short lines. The handlers'
JSON logs and EMF metrics go to the log file the banner names (and to the console too with
--verbose); a handler's warning is one readable line; a taken port says by whom."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag_eval.client import ScoreJobsClient
from testkit.scripted_judge import ScriptedJudge

pytestmark = pytest.mark.slow

RAG_EVAL = str(Path(sys.executable).with_name("rag-eval"))
SAMPLES_FILE = Path(__file__).parents[2] / "rag_eval" / "sample_data" / "samples.jsonl"
SAMPLES = [json.loads(line) for line in SAMPLES_FILE.read_text(encoding="utf-8").splitlines()]
LLM_METRICS = ["faithfulness", "context_recall"]


def shell_env(judge: ScriptedJudge | None = None) -> dict[str, str]:
    """A person's shell: none of the developer's judge, AWS or stack settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not re.match(r"^(OPENAI_|RAGAS_|AWS_|RAG_EVAL_)", name)
    } | {"RAGAS_DO_NOT_TRACK": "true"}
    if judge is not None:
        env |= {"OPENAI_BASE_URL": judge.base_url, "OPENAI_API_KEY": "test"}
        env |= {"RAGAS_MAX_RETRIES": "1"}
    return env


class Console:
    """`rag-eval local start` in a terminal of its own: every line it shows, in order."""

    def __init__(self, arguments: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [RAG_EVAL, "local", "start", *arguments],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := re.search(pattern, self.text, re.M):
                return found
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} on the console:\n{self.text}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
        self._reader.join(timeout=10)


def json_lines(lines: list[str]) -> list[dict]:
    """The lines that are JSON objects (Powertools log records, EMF documents)."""
    found = []
    for line in lines:
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict):
            found.append(document)
    return found


@pytest.fixture(scope="module")
def judge() -> Iterator[ScriptedJudge]:
    with ScriptedJudge() as running:
        yield running


@pytest.fixture(scope="module")
def console(judge: ScriptedJudge, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """GIVEN `rag-eval local start` with the scripted judge, as a person starts it."""
    state_dir = tmp_path_factory.mktemp("local-stack")
    running = Console(["--port", "0", "--state-dir", str(state_dir)], shell_env(judge))
    running.wait_for(r"^Ctrl-C stops it")
    yield running
    running.stop()


def endpoint_of(console: Console) -> str:
    return console.wait_for(r"RAG_EVAL_ENDPOINT=(\S+)").group(1)


def log_file_of(console: Console) -> Path:
    return Path(console.wait_for(r"^  logs +(\S+) \(the handlers' JSON logs").group(1))


def test_the_console_shows_short_lines_and_the_log_file_it_names_the_json(
    console: Console,
) -> None:
    # WHEN a job is submitted and scored
    client = ScoreJobsClient(endpoint_of(console))
    job = client.submit({"samples": SAMPLES, "metrics": ["chrf_score"]})
    done = client.wait(job.job_id, timeout=120)
    assert done.status == "completed"

    # THEN the console says what was asked and what the worker did, in lines of its own
    console.wait_for(r"INFO rag_eval\.local\.poller: WorkerFunction: batch of 1 record")
    assert re.search(r"POST /v1/score-jobs 202 \d+ ms", console.text)
    assert json_lines(console.lines) == []
    # AND the handlers' JSON logs and EMF metrics are in the file the banner names
    logged = json_lines(log_file_of(console).read_text(encoding="utf-8").splitlines())
    messages = {(d.get("message"), d.get("job_id")) for d in logged}
    assert ("job queued", job.job_id) in messages
    assert ("job completed", job.job_id) in messages
    assert any("JobsSubmitted" in d and "_aws" in d for d in logged)  # the API's EMF
    assert any("SamplesScored" in d and "_aws" in d for d in logged)  # the worker's EMF


def test_a_budget_limited_job_leaves_the_narrative_out_without_a_warning(
    console: Console,
) -> None:
    # GIVEN a job of the LLM metrics that may ask the judge 8 times, far fewer than it needs
    client = ScoreJobsClient(endpoint_of(console))
    body = {"samples": SAMPLES, "metrics": LLM_METRICS, "max_judge_calls": 8, "cache": "off"}

    # WHEN it is scored
    job = client.submit(body)
    done = client.wait(job.job_id, timeout=180)

    # THEN it completes with what the budget allowed; the console has no warning about it,
    # neither of the narrative nor of the pairs left unscored (the job's summary has those)
    assert done.status == "completed" and done.budget.exhausted, done
    console.wait_for(rf"GET /v1/score-jobs/{job.job_id} 200")
    # (the module's stack is shared: another test's job may have warned on this console)
    ours = [line for line in console.lines if job.job_id in line]
    assert [line for line in ours if "WARNING" in line or "advice narrative" in line] == []
    assert json_lines(console.lines) == []
    # AND the advice says plainly why it has no narrative, and that it is otherwise complete
    advice = client.fetch(client.artifacts(job.job_id).files["optimization_advice.md"].url)
    assert (
        "The judge's narrative was left out: the job's judge budget was spent before it; "
        "the rule-based advice below is complete."
    ) in advice.decode("utf-8")


def test_a_handlers_warning_is_one_readable_line(console: Console, judge: ScriptedJudge) -> None:
    # GIVEN a judge that garbles the advice narrative (and the retry of it)
    judge.fail_next("garbage", count=10, fail_titles={"AdviceNarrative"})
    client = ScoreJobsClient(endpoint_of(console))

    # WHEN a job of an LLM metric is scored
    job = client.submit({"samples": SAMPLES[:1], "metrics": ["faithfulness"]})
    try:
        assert client.wait(job.job_id, timeout=180).status == "completed"
    finally:
        judge.clear_failures()  # the judge is the module's: the next test's job is not garbled

    # THEN the worker's warning is one line, as the console's own lines read: what failed,
    # what the advice has instead, which job
    line = console.wait_for(r"^.*WARNING rag_eval\.advice\.narrative: .*$").group(0)
    assert re.fullmatch(
        r"\S+ \S+ WARNING rag_eval\.advice\.narrative: advice narrative failed \(.+\); the "
        rf"advice has its rule-based findings only \(job {job.job_id}\)",
        line,
    ), line
    assert json_lines(console.lines) == []


def test_verbose_shows_the_json_on_the_console_too(tmp_path: Path) -> None:
    # GIVEN `rag-eval local start --verbose`
    console = Console(["--port", "0", "--state-dir", str(tmp_path), "--verbose"], shell_env())
    try:
        client = ScoreJobsClient(endpoint_of(console))
        assert "(the handlers' JSON logs and EMF metrics; shown here too)" in console.text

        # WHEN a job is scored
        job = client.submit({"samples": SAMPLES[:1], "metrics": ["chrf_score"]})
        assert client.wait(job.job_id, timeout=120).status == "completed"
        console.wait_for(r"WorkerFunction: batch of 1 record")
    finally:
        console.stop()

    # THEN the API's and the worker's JSON lines are on the console, as in the log file
    shown = json_lines(console.lines)
    assert {"job queued", "job completed"} <= {d.get("message") for d in shown}
    assert any("SamplesScored" in d for d in shown)
    assert shown == json_lines((tmp_path / "handlers.jsonl").read_text("utf-8").splitlines())


def start_on(port: str) -> subprocess.CompletedProcess[str]:
    """`rag-eval local start` on the API port given (moto's: any free one), to its end."""
    return subprocess.run(
        [RAG_EVAL, "local", "start", "--port", port, "--moto-port", "0"],
        env=shell_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_second_start_on_a_running_stacks_port_says_where_it_runs(console: Console) -> None:
    # GIVEN the running stack's API port
    endpoint = endpoint_of(console)
    port = endpoint.split(":")[2].split("/")[0]

    # WHEN another stack is started on it
    done = start_on(port)

    # THEN it says a stack is running there, and where, rather than asking for another port
    assert done.returncode == 2
    assert f"error: a local stack is already running on this port (API {endpoint})" in done.stderr
    assert "choose another" not in done.stderr


def test_a_port_held_by_another_program_asks_for_another_port() -> None:
    # GIVEN a port some other program listens on
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]

        # WHEN the stack is started on it
        done = start_on(str(port))

    # THEN it asks for another port
    assert done.returncode == 2
    assert f"127.0.0.1:{port} is taken by another program" in done.stderr
    assert "choose another --port" in done.stderr
