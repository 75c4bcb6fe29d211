"""`rag-eval cancel`, `submit --file` of a large file (uploaded, then submitted as a dataset),
and the progress a person sees while waiting: output lines and exit codes."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag_eval.cli.main import main
from rag_eval.cli.render import UploadProgress, duration, progress_line
from rag_eval.domain.job import JobStatus
from rag_eval.metrics import DEFAULT_METRICS, REGISTRY
from tests.client.test_client import ScriptedApi, job, submitted
from tests.support.catalogue import catalogue
from tests.support.loopback import FakeS3

UPLOAD_ID = "5f3a9c0e1b2d4f6a8c0e1b2d"
CONFLICT = "job j1 is completed; only a queued or running job can be cancelled"


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    """A scripted API that can score every metric and hands out uploads to a stand-in S3."""
    with ScriptedApi() as running, FakeS3("uploads-bucket") as s3:
        every = [
            spec.describe() | {"available": True, "unavailable": None} for spec in REGISTRY.values()
        ]
        running.script[("GET", "/v1/metrics")] = [(200, catalogue(every))]
        running.script[("POST", "/v1/uploads")] = [
            (
                201,
                {
                    "upload_id": UPLOAD_ID,
                    "url": s3.url,
                    "fields": {"key": f"uploads/{UPLOAD_ID}/data.csv", "policy": "p"},
                    "expires_in": 900,
                    "max_bytes": 1024**3,
                },
            )
        ]
        running.script[("POST", "/v1/score-jobs")] = [(202, submitted())]
        running.s3 = s3  # type: ignore[attr-defined]
        yield running


def routes(api: ScriptedApi) -> list[tuple[str, str]]:
    return [(seen.method, seen.path) for seen in api.seen]


def write_csv(path: Path, rows: int, header: str = "sample_id,question,answer") -> Path:
    lines = [header, *(f"s{i},Question {i}?,Answer {i}." for i in range(rows))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- cancel --------------------------------------------------------------------------------------


def test_cancel_prints_the_cancelled_job_and_that_its_results_are_partial(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.script[("POST", "/v1/score-jobs/j1/cancel")] = [
        (
            202,
            job(
                status="cancelled",
                partial=True,
                progress={"samples_total": 2, "samples_done": 1, "samples_cancelled": 1},
                run_id="20261129T160000Z-j1",
                artifact_keys={"scores.csv": "score-async/20261129T160000Z-j1/scores.csv"},
            ),
        )
    ]
    assert main(["cancel", "j1", "--endpoint", api.endpoint]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[:2] == [
        "job j1: cancelled",
        "  partial: 1 of 2 samples were scored before the cancel and 1 were not; the means "
        "are theirs only",
    ]
    assert "run folder: 20261129T160000Z-j1" in out
    # AND what was scored can be fetched, as a completed job's run folder can
    assert err == "  fetch what was scored: rag-eval artifacts j1 --download runs/\n"
    assert routes(api) == [("POST", "/v1/score-jobs/j1/cancel")]


def test_cancel_of_a_job_still_finishing_its_shards_says_how_to_follow_it(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.script[("POST", "/v1/score-jobs/j1/cancel")] = [(202, job(status="running"))]
    assert main(["cancel", "j1", "--endpoint", api.endpoint]) == 0
    out, err = capsys.readouterr()
    assert out == "job j1: running, cancelling (the shards in flight finish)\n"
    assert err == "  follow it: rag-eval wait j1\n"


def test_cancel_json_prints_the_job(api: ScriptedApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.script[("POST", "/v1/score-jobs/j1/cancel")] = [(202, job(status="cancelled"))]
    assert main(["cancel", "j1", "--json", "--endpoint", api.endpoint]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "cancelled"


@pytest.mark.parametrize("as_json", [False, True])
def test_cancel_of_a_finished_job_says_so_and_where_to_look_with_exit_2(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    api.script[("POST", "/v1/score-jobs/j1/cancel")] = [
        (409, {"error": {"code": "conflict", "message": CONFLICT}})
    ]
    code = main(["cancel", "j1", "--endpoint", api.endpoint, *(["--json"] if as_json else [])])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.splitlines() == [
        f"error: {CONFLICT}",
        "next: `rag-eval status j1` shows how it ended",
    ]
    if as_json:
        assert json.loads(out)["error"] == {
            "code": "conflict",
            "message": CONFLICT,
            "status": 409,
            "details": [],
        }
    else:
        assert out == ""


def test_cancel_of_an_unknown_job_exits_2_pointing_at_the_list(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.script[("POST", "/v1/score-jobs/nope/cancel")] = [
        (404, {"error": {"code": "job_not_found", "message": "no job with id 'nope'"}})
    ]
    assert main(["cancel", "nope", "--endpoint", api.endpoint]) == 2
    assert capsys.readouterr().err == (
        "error: job_not_found: no job with id 'nope'\nnext: `rag-eval list` shows your jobs\n"
    )


def test_waiting_on_a_job_that_gets_cancelled_exits_as_failed(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.script[("GET", "/v1/score-jobs/j1")] = [
        (200, job(status="running")),
        (200, job(status="cancelled", partial=True)),
    ]
    assert main(["wait", "j1", "--endpoint", api.endpoint]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("job j1: cancelled\n  partial: 1 of 2 samples were scored")
    assert err.splitlines()[-1] == "job j1: cancelled, 1/2 samples, 1/2 metric calls"


# --- submit --file: inline or uploaded ---------------------------------------------------------


def test_a_file_of_more_samples_than_a_request_takes_is_uploaded_then_submitted_as_a_dataset(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a CSV of 1,001 rows whose columns are named the user's way
    data = write_csv(tmp_path / "data.csv", 1001, header="id,query,response")

    # WHEN it is submitted with a column map and invalid rows skipped
    code = main(
        [
            "submit",
            "--file",
            str(data),
            "--column-map",
            "query=question",
            "--column-map",
            "response=answer",
            "--column-map",
            "id=sample_id",
            "--on-invalid",
            "skip",
            "--endpoint",
            api.endpoint,
        ]
    )

    # THEN the file was uploaded (the API asked for an upload of its name and size first)
    assert code == 0
    assert routes(api) == [
        ("GET", "/v1/metrics"),
        ("POST", "/v1/uploads"),
        ("POST", "/v1/score-jobs"),
    ]
    size = data.stat().st_size
    assert api.seen[1].body == {"filename": "data.csv", "size_bytes": size}
    [form] = api.s3.bodies  # type: ignore[attr-defined]
    assert data.read_bytes() in form
    assert form.index(b'name="policy"') < form.index(b'name="file"; filename="data.csv"')

    # AND the submission names the upload, the column map and on_invalid; no samples
    sent = api.seen[2].body
    assert sent["dataset"] == {
        "upload_id": UPLOAD_ID,
        "column_map": {"query": "question", "response": "answer", "id": "sample_id"},
    }
    assert sent["on_invalid"] == "skip"
    assert sent["metrics"] == list(DEFAULT_METRICS)
    assert "samples" not in sent

    # AND stderr said why it was uploaded, and that it was
    out, err = capsys.readouterr()
    assert out == "job j1: queued\n"
    assert (
        f"data.csv is {size / 1024:.1f} KiB / 1,001 rows: over the inline limit of 1,000 "
        "samples; uploading it\n"
    ) in err
    assert f"uploaded data.csv: {size / 1024:.1f} KiB (upload {UPLOAD_ID})\n" in err


def test_a_small_file_stays_inline(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_csv(tmp_path / "data.csv", 1000)
    assert main(["submit", "--file", str(data), "--endpoint", api.endpoint]) == 0
    assert routes(api) == [("GET", "/v1/metrics"), ("POST", "/v1/score-jobs")]
    sent = api.seen[-1].body
    assert len(sent["samples"]) == 1000 and "dataset" not in sent
    assert "upload" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "why"),
    [
        (["--upload"], "data.csv: uploading it (--upload)"),
        (
            ["--column-map", "query=question"],
            "data.csv: --column-map applies to an uploaded file; uploading it",
        ),
    ],
    ids=["upload", "column-map"],
)
def test_a_small_file_is_uploaded_when_asked_or_mapped(
    api: ScriptedApi,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    why: str,
) -> None:
    data = write_csv(tmp_path / "data.csv", 2, header="sample_id,query,answer")
    code = main(["submit", "--file", str(data), *flags, "--json", "--endpoint", api.endpoint])
    assert code == 0
    assert ("POST", "/v1/uploads") in routes(api)
    out, err = capsys.readouterr()
    assert json.loads(out)["job_id"] == "j1"  # stdout stays the job's JSON
    assert f"{why}\n" in err
    assert "on_invalid" not in api.seen[-1].body  # the service's own default


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        (["--upload"], "error: --upload: needs --file"),
        (
            ["--file", "{data}", "--column-map", "qeury=question"],
            "error: --column-map: no column 'qeury' in data.csv (allowed: sample_id, query, "
            "answer)",
        ),
        (
            ["--file", "{empty}", "--upload"],
            "error: --file: {empty} is empty: there is nothing to score",
        ),
    ],
    ids=["without-file", "unknown-column", "empty-file"],
)
def test_what_an_upload_would_only_then_find_is_refused_before_anything_is_sent(
    api: ScriptedApi,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    line: str,
) -> None:
    paths = {
        "data": str(write_csv(tmp_path / "data.csv", 2, header="sample_id,query,answer")),
        "empty": str(tmp_path / "empty.csv"),
    }
    Path(paths["empty"]).write_bytes(b"")
    argv = [flag.format(**paths) for flag in flags]
    assert main(["submit", *argv, "--endpoint", api.endpoint]) == 2
    assert capsys.readouterr().err.splitlines() == [line.format(**paths)]
    assert api.seen == []


def test_a_column_map_must_name_one_of_our_fields(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["submit", "--file", "data.csv", "--column-map", "query=questoin"])
    assert exited.value.code == 2
    assert "expected THEIRS=OURS, OURS one of sample_id, question" in capsys.readouterr().err


# --- progress ----------------------------------------------------------------------------------


def running(status: str = "running", **progress: Any) -> JobStatus:
    return JobStatus.model_validate(job(status=status, progress=progress))


def test_a_queued_dataset_job_not_yet_counted_shows_planning() -> None:
    assert progress_line(running("queued", samples_total=0)) == "job j1: queued, planning"
    assert progress_line(running("failed", samples_total=0)) == "job j1: failed"


def test_progress_shows_shards_means_so_far_skipped_rows_and_the_time_left() -> None:
    line = progress_line(
        running(
            samples_total=25_000,
            samples_done=1_200,
            samples_skipped=12,
            metric_calls_total=100_000,
            metric_calls_done=4_800,
            shards_total=25,
            shards_done=3,
            running_scores={"faithfulness": 0.81234, "answer_relevancy": None, "chrf_score": 0.75},
            eta_seconds=250,
        )
    )
    assert line == (
        "job j1: running, 1,200/25,000 samples (12 invalid skipped), 4,800/100,000 metric "
        "calls, 3/25 shards, so far faithfulness 0.812 chrf_score 0.750, ETA 4m 10s"
    )


def test_one_shard_no_means_yet_and_no_eta_add_nothing() -> None:
    line = progress_line(
        running(
            samples_total=2,
            samples_done=1,
            metric_calls_total=2,
            metric_calls_done=1,
            shards_total=1,
            shards_done=0,
            running_scores={"chrf_score": None},
            eta_seconds=None,
        )
    )
    assert line == "job j1: running, 1/2 samples, 1/2 metric calls"


def test_a_finished_job_shows_no_eta_nor_running_means() -> None:
    ended = running(
        "completed",
        samples_total=4,
        samples_done=4,
        metric_calls_total=4,
        metric_calls_done=4,
        running_scores={"chrf_score": 0.5},
        eta_seconds=0,
    )
    assert progress_line(ended) == "job j1: completed, 4/4 samples, 4/4 metric calls"


def test_durations_read_as_a_person_says_them() -> None:
    assert [duration(s) for s in (0, 45, 250, 3720, 90_000)] == [
        "0s",
        "45s",
        "4m 10s",
        "1h 02m",
        "25h 00m",
    ]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_upload_bar_on_a_terminal_is_rewritten_in_place_then_replaced_by_the_result() -> None:
    screen = Terminal()
    show = UploadProgress("data.csv", 4 * 1024**2, stream=screen)
    for sent in (1, 2, 2, 4):
        show(sent * 1024**2, 4 * 1024**2)
    show.done("abc")
    frames = screen.getvalue().split("\r\033[K")[1:]
    assert frames == [
        "uploading data.csv [#####...............] 1.0 MiB / 4.0 MiB 25%",
        "uploading data.csv [##########..........] 2.0 MiB / 4.0 MiB 50%",  # once per percent
        "uploading data.csv [####################] 4.0 MiB / 4.0 MiB 100%",
        "uploaded data.csv: 4.0 MiB (upload abc)\n",
    ]


def test_the_upload_elsewhere_is_one_line_at_the_end() -> None:
    log = io.StringIO()
    show = UploadProgress("data.csv", 2048, stream=log)
    show(1024, 2048)
    show(2048, 2048)
    show.done("abc")
    assert log.getvalue() == "uploaded data.csv: 2.0 KiB (upload abc)\n"


def test_an_uploaded_file_of_conversations_is_submitted_with_the_conversation_metrics(
    api: ScriptedApi, tmp_path: Path
) -> None:
    # GIVEN a JSON Lines file of an agent's conversations, and no --metrics
    conversation = {
        "user_input": [
            {"type": "human", "content": "Where is my parcel?"},
            {"type": "ai", "content": "", "tool_calls": [{"name": "track", "args": {}}]},
            {"type": "tool", "content": "In transit."},
            {"type": "ai", "content": "It is in transit."},
        ],
        "reference_tool_calls": [{"name": "track", "args": {}}],
    }
    data = tmp_path / "agents.jsonl"
    data.write_text(json.dumps(conversation) + "\n", encoding="utf-8")

    # WHEN it is submitted by upload
    code = main(["submit", "--file", str(data), "--upload", "--json", "--endpoint", api.endpoint])

    # THEN the job asks for the metrics of conversations, not the single-turn defaults
    assert code == 0
    assert api.seen[-1].body["metrics"] == [
        "tool_call_accuracy",
        "tool_call_f1",
        "agent_goal_accuracy",
    ]
