"""Lambda's execution environments as processes of their own (`LocalFunction`, isolation
"process"): on a tiny handler written here, then on the whole local stack."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rag_eval.client import ScoreJobsClient
from rag_eval.local.runtime import FunctionCode, LocalFunction
from rag_eval.local.sandbox import InvocationError, RuntimeExited, TaskTimedOut
from rag_eval.local.stack import LocalStack

pytestmark = pytest.mark.slow

HANDLER = textwrap.dedent(
    """
    import os
    import time
    from pathlib import Path

    invocations = 0  # a module global: one count per execution environment


    def handler(event, context):
        global invocations
        invocations += 1
        if "started" in event:  # tell the test the invocation is under way
            Path(event["started"]).write_text(str(os.getpid()))
        if "rendezvous" in event:  # hold until `expected` invocations are in at once
            folder = Path(event["rendezvous"])
            (folder / str(os.getpid())).touch()
            deadline = time.monotonic() + 60
            while len(list(folder.iterdir())) < event["expected"]:
                if time.monotonic() > deadline:
                    raise TimeoutError("the other invocations never came")
                time.sleep(0.01)
        if "raise" in event:
            raise ValueError(event["raise"])
        if "sleep" in event:
            time.sleep(event["sleep"])
        started = time.time()
        if "busy" in event:  # CPU, not sleep: threads of one interpreter would take turns
            while time.process_time() < event["busy"]:
                pass
        if event.get("unserialisable"):
            return {"a set": {1, 2}}
        return {
            "echo": event.get("echo"),
            "pid": os.getpid(),
            "invocations": invocations,
            "setting": os.environ.get("RUNTIME_TEST_SETTING"),
            "function_name": context.function_name,
            "memory": context.memory_limit_in_mb,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "started": started,
            "ended": time.time(),
        }
    """
)


@pytest.fixture
def make_function(tmp_path: Path) -> Iterator[Callable[..., LocalFunction]]:
    """GIVEN a function of the tiny handler above, each of its environments a process."""
    made: list[LocalFunction] = []

    def make(timeout_seconds: int = 60, max_environments: int = 2, source: str = HANDLER):
        path = tmp_path / f"handler_{len(made)}.py"
        path.write_text(source, encoding="utf-8")
        code = FunctionCode("TinyFunction", path, "handler", timeout_seconds, 256)
        function = LocalFunction(
            code, "tiny-function", max_environments=max_environments, isolation="process"
        )
        made.append(function)
        return function

    yield make
    for function in made:
        function.close()
        assert function.environment_pids() == []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def in_parallel(function: LocalFunction, events: list[dict[str, Any]]) -> list[Any]:
    """Each event invoked from a thread of its own; the results (or exceptions) in order."""
    results: list[Any] = [None] * len(events)

    def run(index: int) -> None:
        try:
            results[index] = function.invoke(events[index])
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def two_warm_environments(function: LocalFunction, folder: Path) -> set[int]:
    """Two invocations held until both are in: two environments, made and warm."""
    folder.mkdir()
    results = in_parallel(function, [{"rendezvous": str(folder), "expected": 2}] * 2)
    assert not [r for r in results if isinstance(r, Exception)], results
    return {result["pid"] for result in results}


def test_an_invocation_runs_in_a_child_process_and_its_result_comes_back(
    make_function: Callable[..., LocalFunction],
) -> None:
    function = make_function(timeout_seconds=30)

    result = function.invoke({"echo": {"text": "héllo", "numbers": [1, 2.5, None]}})

    assert result["echo"] == {"text": "héllo", "numbers": [1, 2.5, None]}
    assert result["pid"] != os.getpid()
    assert function.environment_pids() == [result["pid"]]
    # AND the handler got the function's context, its deadline counting down from Timeout
    assert result["function_name"] == "tiny-function"
    assert result["memory"] == 256
    assert 0 < result["remaining_ms"] <= 30_000


def test_a_handler_exception_surfaces_with_its_type_and_message_and_the_environment_stays(
    make_function: Callable[..., LocalFunction], caplog: pytest.LogCaptureFixture
) -> None:
    function = make_function()
    first = function.invoke({})

    with (
        caplog.at_level(logging.ERROR, logger="rag_eval.local.sandbox"),
        pytest.raises(InvocationError, match="ValueError: no such sample") as raised,
    ):
        function.invoke({"raise": "no such sample"})

    assert raised.value.error_type == "ValueError"
    assert raised.value.error_message == "no such sample"
    assert "handler_0.py" in raised.value.stack_trace
    # AND the child's traceback is in the log
    assert re.search(r"Traceback .*handler_0\.py.*ValueError: no such sample", caplog.text, re.S)
    # AND the environment is still warm, as on Lambda after a handler error
    again = function.invoke({})
    assert (again["pid"], again["invocations"]) == (first["pid"], 3)


def test_a_result_that_is_not_json_is_lambdas_marshal_error(
    make_function: Callable[..., LocalFunction],
) -> None:
    function = make_function()
    with pytest.raises(InvocationError, match=r"Runtime\.MarshalError: Unable to marshal"):
        function.invoke({"unserialisable": True})


def test_module_globals_persist_in_an_environment_and_differ_between_environments(
    make_function: Callable[..., LocalFunction], tmp_path: Path
) -> None:
    function = make_function()

    warm = [function.invoke({}) for _ in range(3)]
    assert [r["invocations"] for r in warm] == [1, 2, 3]
    assert len({r["pid"] for r in warm}) == 1

    # WHEN two invocations are in at once: the second gets an environment of its own
    folder = tmp_path / "rendezvous"
    folder.mkdir()
    results = in_parallel(function, [{"rendezvous": str(folder), "expected": 2}] * 2)
    assert sorted(r["invocations"] for r in results) == [1, 4]
    assert len({r["pid"] for r in results}) == 2


def test_two_environments_run_at_the_same_time_in_two_processes(
    make_function: Callable[..., LocalFunction], tmp_path: Path
) -> None:
    function = make_function()
    pids = two_warm_environments(function, tmp_path / "warm")

    # WHEN each of them keeps a CPU busy for a second
    results = in_parallel(function, [{"busy": 1.0}] * 2)

    # THEN they were busy in two processes, over overlapping intervals
    assert {r["pid"] for r in results} == pids
    first, second = sorted(results, key=lambda r: r["started"])
    assert second["started"] < first["ended"]


def test_a_child_killed_mid_invocation_fails_that_invocation_and_is_replaced(
    make_function: Callable[..., LocalFunction], tmp_path: Path
) -> None:
    function = make_function(max_environments=1)
    started = tmp_path / "started"
    outcome: list[Any] = []
    event = {"started": str(started), "sleep": 60}
    thread = threading.Thread(target=lambda: outcome.extend(in_parallel(function, [event])))
    thread.start()
    try:
        _wait_for(lambda: started.exists() and started.read_text() != "")
        [pid] = function.environment_pids()
        assert int(started.read_text()) == pid

        # WHEN the environment's process is killed while the handler runs
        os.kill(pid, signal.SIGKILL)
        thread.join(timeout=30)
    finally:
        if thread.is_alive():
            function.close()
            thread.join(timeout=30)

    # THEN that invocation raised, as a crashed Lambda runtime does
    [error] = outcome
    assert isinstance(error, RuntimeExited)
    assert "Runtime exited with error: signal: SIGKILL" in str(error)
    assert pid not in function.environment_pids()
    # AND the next invocation gets a new environment
    result = function.invoke({})
    assert result["pid"] != pid
    assert result["invocations"] == 1
    assert function.environment_pids() == [result["pid"]]


def test_an_invocation_past_the_timeout_is_stopped_as_lambda_stops_it(
    make_function: Callable[..., LocalFunction],
) -> None:
    function = make_function(timeout_seconds=1)
    pid = function.invoke({})["pid"]

    with pytest.raises(TaskTimedOut, match=r"Task timed out after 1\.00 seconds"):
        function.invoke({"sleep": 60})

    assert not alive(pid)
    assert function.environment_pids() == []
    assert function.invoke({})["pid"] != pid


def test_close_stops_every_environment(
    make_function: Callable[..., LocalFunction], tmp_path: Path
) -> None:
    function = make_function()
    pids = two_warm_environments(function, tmp_path / "warm")
    assert sorted(function.environment_pids()) == sorted(pids)

    function.close()

    assert function.environment_pids() == []
    assert not any(alive(pid) for pid in pids)
    with pytest.raises(RuntimeError, match="closed"):
        function.invoke({})


def test_an_environment_sees_os_environ_as_it_was_before_its_first_invocation(
    make_function: Callable[..., LocalFunction], monkeypatch: pytest.MonkeyPatch
) -> None:
    function = make_function()
    monkeypatch.setenv("RUNTIME_TEST_SETTING", "from the template")

    assert function.invoke({})["setting"] == "from the template"


def test_a_handler_module_failing_its_cold_start_fails_the_invocation(
    make_function: Callable[..., LocalFunction],
) -> None:
    function = make_function(source="raise RuntimeError('no config at import')\n")

    with pytest.raises(InvocationError, match="RuntimeError: no config at import"):
        function.invoke({})

    assert function.environment_pids() == []


def _wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


# --- on the whole local stack ------------------------------------------------------------------


def test_the_local_stack_scores_a_job_with_its_worker_in_processes_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if re.match(r"^(OPENAI_|RAGAS_)", name) and name != "RAGAS_DO_NOT_TRACK":
            monkeypatch.delenv(name)
    sample = json.loads(
        (Path(__file__).resolve().parents[2] / "rag_eval/sample_data/samples.jsonl")
        .read_text("utf-8")
        .splitlines()[0]
    )
    with LocalStack(
        port=0, visibility_timeout=30, worker_concurrency=2, worker_isolation="process"
    ) as stack:
        workers = [f for f in stack.functions.values() if f.isolation == "process"]
        assert workers, "no function of an SQS event source"
        client = ScoreJobsClient(stack.endpoint)

        submitted = client.submit(sample | {"metrics": ["exact_match"]})
        job = client.wait(submitted.job_id, timeout=120, poll_interval=0.2)

        assert job.status == "completed", job.error
        assert set(job.scores) == {"exact_match"}
        pids = [pid for worker in workers for pid in worker.environment_pids()]
        assert pids
        assert os.getpid() not in pids
    # AND stopping the stack stopped them
    assert not any(alive(pid) for pid in pids)
