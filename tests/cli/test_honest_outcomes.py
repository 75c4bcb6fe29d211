"""`rag-eval score` never calls a job a success that is not one: an unreachable judge fails
it as the service does, a misspelt field is an error naming the likely one, and a job in
which nothing scored is failed."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from rag_eval.cli.main import main

ONE_SAMPLE = [
    "--question",
    "When was the Eiffel Tower completed?",
    "--answer",
    "In 1889.",
    "--context",
    "The Eiffel Tower was completed in 1889.",
    "--ground-truth",
    "The Eiffel Tower was completed in 1889.",
]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.integration  # a server of its own on loopback
def test_score_against_an_unreachable_judge_fails_at_once_naming_it(
    no_judge_env: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a judge endpoint nothing listens on
    endpoint = f"http://127.0.0.1:{closed_port()}/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", endpoint)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")

    # WHEN judged metrics are scored
    code = main(
        [
            "score",
            *ONE_SAMPLE,
            "--metrics",
            "faithfulness,chrf_score",
            "--json",
            "--out",
            str(tmp_path),
        ]
    )

    # THEN the job failed with the service's reason, and the exit code says so
    job = json.loads(capsys.readouterr().out)
    assert code == 1 and job["status"] == "failed"
    assert job["error"] == (
        f"JudgeUnreachable: cannot reach the judge at {endpoint} (ConnectError); check "
        "OPENAI_BASE_URL and that the judge is up"
    )
    assert not list(tmp_path.iterdir())  # nothing was scored, no run folder


def test_misspelt_keys_in_a_jsonl_file_are_errors_naming_the_field_meant(
    no_judge_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN rows whose answer and reference keys are misspelt, and a column of its own
    rows = tmp_path / "typos.jsonl"
    row = {"question": "q?", "answr": "a", "groundtruth": "a", "question_id": 7}
    rows.write_text("\n".join(json.dumps(row) for _ in range(3)), encoding="utf-8")

    # WHEN they are scored
    code = main(["score", "--file", str(rows), "--metrics", "exact_match"])

    # THEN nothing is scored: each misspelling is one line with the likely name
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: typos.jsonl 3 rows (line 1 .. line 3): answr: is not a field (did you mean "
        "answer?): rename it; other columns are ignored",
        "error: typos.jsonl 3 rows (line 1 .. line 3): groundtruth: is not a field (did you "
        "mean ground_truth?): rename it; other columns are ignored",
    ]


def test_misspelt_csv_columns_are_errors_and_other_columns_are_ignored(
    no_judge_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = tmp_path / "typos.csv"
    rows.write_text(
        "question,Answer,contexts,Ground Truth,reference_contexts\nq?,a,c,a,c\n", encoding="utf-8"
    )

    assert main(["score", "--file", str(rows), "--metrics", "exact_match"]) == 2
    err = capsys.readouterr().err
    assert "column Answer is not a field (did you mean answer?)" in err
    assert "column Ground Truth is not a field (did you mean ground_truth?)" in err
    assert "reference_contexts" not in err


def test_a_job_in_which_nothing_scored_fails(
    no_judge_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a sample with no answer nor reference, and metrics that need both
    arguments = ["--question", "q?", "--context", "c", "--metrics", "exact_match,chrf_score"]

    # WHEN it is scored
    code = main(["score", *arguments, "--out", str(tmp_path)])

    # THEN the job failed, saying why nothing scored
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines()[:2] == [
        out.splitlines()[0].split(":")[0] + ": failed",
        "  error: NothingScored: no sample scored any metric (exact_match skipped (missing "
        "input: answer, ground_truth); chrf_score skipped (missing input: answer, "
        "ground_truth))",
    ]
