"""`rag-eval submit --suite --anchor --notify`: the run's suite and webhook in the request
body, its anchor uploaded first and named by its upload id."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_eval.cli.main import main
from tests.cli.test_cancel_and_upload import UPLOAD_ID, api, routes, write_csv
from tests.client.test_client import ScriptedApi

__all__ = ["api"]  # the fixture


def test_a_suite_run_with_an_anchor_and_a_webhook(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    anchor = write_csv(tmp_path / "anchor.csv", 3)
    code = main(
        [
            *("submit", "--question", "Q?", "--answer", "A.", "--metrics", "exact_match"),
            *("--suite", "support-bot/weekly", "--anchor", str(anchor)),
            *("--notify", "https://hooks.example.com/ragas", "--endpoint", api.endpoint),
        ]
    )
    assert code == 0
    assert routes(api)[-2:] == [("POST", "/v1/uploads"), ("POST", "/v1/score-jobs")]
    body = api.seen[-1].body
    assert body["suite"] == "support-bot/weekly"
    assert body["anchor"] == {"upload_id": UPLOAD_ID}
    assert body["notify"] == {"url": "https://hooks.example.com/ragas"}
    assert "anchor.csv: uploading the anchor" in capsys.readouterr().err


def test_a_missing_anchor_file_is_refused_before_anything_is_sent(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            *("submit", "--question", "Q?", "--answer", "A.", "--metrics", "exact_match"),
            *("--suite", "s/w", "--anchor", str(tmp_path / "nope.csv"), "--endpoint", api.endpoint),
        ]
    )
    assert code == 2
    assert "--anchor: no such file" in capsys.readouterr().err
    assert ("POST", "/v1/score-jobs") not in routes(api)
