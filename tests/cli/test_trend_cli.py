"""`rag-eval trend`, `rag-eval suites` and `rag-eval gate --drift`: what a person at a
terminal (or a CI job) sees of a suite's runs over time, against a scripted API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag_eval.cli.main import main
from rag_eval.domain.ci_gate import decide, drift_rules
from rag_eval.domain.suites import Drift
from tests.client.test_client import ScriptedApi, job
from tests.report.test_trend_page import run


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    with ScriptedApi() as running:
        yield running


def drift(metric: str, declining: bool, runs: int = 8, **fields: Any) -> Drift:
    slope, p_value = (-0.0123, 0.0021) if declining else (0.0004, 0.61)
    return Drift.model_validate(
        {
            "metric": metric,
            "runs": runs,
            "runs_needed": 4,
            "tau": -0.7 if declining else 0.05,
            "p_value": p_value,
            "slope_per_run": slope,
            "declining": declining,
            "sentence": f"{metric}: what the test says.",
        }
        | fields
    )


# --- the gate's drift rule ----------------------------------------------------------------------


def test_a_declining_metric_fails_the_gate_naming_its_slope_p_value_and_runs() -> None:
    decision = decide(
        drift_rules(
            "support-bot/weekly",
            {"faithfulness": drift("faithfulness", True), "context_recall": drift("x", False)},
        )
    )

    assert decision.outcome == "fail"
    assert decision.reasons == [
        "faithfulness is declining: -0.0123 a run over the last 8 runs (p 0.0021)"
    ]


def test_no_decline_passes_and_its_row_shows_what_was_tested() -> None:
    decision = decide(
        drift_rules("support-bot/weekly", {"faithfulness": drift("faithfulness", False)})
    )

    assert decision.outcome == "pass" and decision.reasons == []
    assert decision.rules[0].observed == "+0.0004 a run, p 0.61, over 8 runs"


def test_a_job_of_no_suite_or_too_few_runs_passes_saying_nothing_was_tested() -> None:
    no_suite = decide(drift_rules(None, {}))
    untested = decide(drift_rules("s/w", {}))
    few = decide(
        drift_rules("s/w", {"faithfulness": drift("faithfulness", False, runs=2, p_value=None)})
    )

    assert no_suite.outcome == untested.outcome == few.outcome == "pass"
    assert no_suite.reasons == ["--drift: the job names no suite, so there is no trend to test"]
    assert untested.reasons == [
        "--drift: the job holds no drift test of suite s/w, so none to pass"
    ]
    assert few.reasons == ["faithfulness: 2 runs, too few to test a decline (4 needed)"]


def test_gate_drift_fails_a_job_whose_suite_declines(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a completed job whose fan-in found faithfulness declining, and one whose did not
    declining = {"faithfulness": drift("faithfulness", True).model_dump()}
    steady = {"faithfulness": drift("faithfulness", False).model_dump()}
    api.script[("GET", "/v1/score-jobs/j1")] = [(200, job(suite="bot/weekly", drift=declining))]
    api.script[("GET", "/v1/score-jobs/j2")] = [(200, job("j2", suite="bot/weekly", drift=steady))]

    # WHEN the gate is asked about drift alone
    failing = main(["gate", "j1", "--drift", "--endpoint", api.endpoint])
    failed = capsys.readouterr().out
    passing = main(["gate", "j2", "--drift", "--endpoint", api.endpoint])
    passed = capsys.readouterr().out

    # THEN the declining job fails (1) naming the metric, the other passes (0)
    assert (failing, passing) == (1, 0)
    assert failed.startswith(
        "gate: FAIL: faithfulness is declining: -0.0123 a run over the last 8 runs (p 0.0021)"
    )
    assert passed.startswith("gate: PASS\n")
    assert "no decline  +0.0004 a run, p 0.61, over 8 runs  pass" in passed


# --- rag-eval trend and suites ------------------------------------------------------------------

SUITE_PATH = "/v1/suites/support-bot/weekly"
CHANGE = "judge: gpt-4o-mini -> gpt-4.1-mini"


def weeks(*numbers: int) -> list[dict[str, Any]]:
    """Weekly runs, newest first as the API gives them; the judge changed at week 3."""
    return [run(w, changes=[CHANGE] if w == 3 else []) for w in sorted(numbers, reverse=True)]


def test_trend_reads_the_pages_up_to_the_limit_prints_a_table_and_writes_the_page(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a suite of six weekly runs over two pages, faithfulness found declining
    declined = drift("faithfulness", True, runs=6).model_dump()
    declined["sentence"] = "faithfulness is declining: -0.0100 a run over the last 6 runs."
    first = {"suite": "support-bot/weekly", "runs": weeks(5, 4, 3), "next_cursor": "c1"}
    second = {"suite": "support-bot/weekly", "runs": weeks(2, 1, 0), "next_cursor": None}
    api.script[("GET", SUITE_PATH)] = [(200, first | {"drift": {"faithfulness": declined}})]
    api.script[("GET", SUITE_PATH)].append((200, second | {"drift": {}}))
    out = tmp_path / "reports" / "trend.html"

    # WHEN its newest five runs are asked for
    code = main(
        [
            "trend",
            "support-bot/weekly",
            "--limit",
            "5",
            "--out",
            str(out),
            "--endpoint",
            api.endpoint,
        ]
    )

    # THEN the second page is asked for only the runs still wanted
    printed = capsys.readouterr().out
    assert code == 0
    assert [s.query for s in api.seen] == [{"limit": ["5"]}, {"limit": ["2"], "cursor": ["c1"]}]
    # AND per metric: the newest mean and interval, the change over the runs shown, the drift
    lines = printed.splitlines()
    assert lines[0] == "suite support-bot/weekly: 5 runs, 2026-09-08 to 2026-10-08"
    assert lines[2].split() == [
        "faithfulness", "0.850", "(0.820–0.880)", "-0.040", "over", "5", "runs", "DECLINING"
    ]  # fmt: skip
    assert lines[3].split()[0] == "context_recall" and lines[3].split()[-2:] == ["no", "test"]
    assert "  ! faithfulness is declining: -0.0100 a run over the last 6 runs." in lines
    assert f"  changed at 2026-09-22 (job job03): {CHANGE}" in lines
    # AND the page of those five runs is written where asked
    assert lines[-1] == f"written: {out}"
    page = out.read_text(encoding="utf-8")
    assert "<h1>Suite support-bot/weekly</h1>" in page
    assert page.count("<td>job0") == 5 and "<td>job00</td>" not in page


def test_trend_json_prints_the_runs_shown(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = {"suite": "support-bot/weekly", "runs": weeks(1, 0), "drift": {}, "next_cursor": None}
    api.script[("GET", SUITE_PATH)] = [(200, answer)]

    out = tmp_path / "t.html"

    code = main(
        ["trend", "support-bot/weekly", "--json", "--out", str(out), "--endpoint", api.endpoint]
    )

    captured = capsys.readouterr()
    assert code == 0
    assert [r["job_id"] for r in json.loads(captured.out)["runs"]] == ["job01", "job00"]
    assert captured.err.strip().endswith(f"written: {out}")
    assert "<h1>Suite support-bot/weekly</h1>" in out.read_text(encoding="utf-8")


def test_trend_of_an_unknown_suite_exits_2_with_the_apis_word(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = {"error": {"code": "suite_not_found", "message": "no suite named a/b"}}
    api.script[("GET", "/v1/suites/a/b")] = [(404, missing)]

    code = main(["trend", "a/b", "--out", str(tmp_path / "t.html"), "--endpoint", api.endpoint])

    assert code == 2
    assert "no suite named a/b" in capsys.readouterr().err
    assert not (tmp_path / "t.html").exists()


def test_suites_lists_each_suite_with_its_runs_and_last_run(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = [
        {"name": "support-bot/weekly", "runs": 12, "last_run_at": "2026-11-30T06:00:01.000Z",
         "last_job_id": "job11"},
        {"name": "search/nightly", "runs": 3, "last_run_at": "2026-11-02T01:00:00.000Z",
         "last_job_id": "jobn2"},
    ]  # fmt: skip
    api.script[("GET", "/v1/suites")] = [(200, {"suites": listed, "next_cursor": None})]

    code = main(["suites", "--endpoint", api.endpoint])

    assert code == 0
    assert [line.split() for line in capsys.readouterr().out.splitlines()] == [
        ["suite", "runs", "last", "run"],
        ["support-bot/weekly", "12", "2026-11-30", "06:00"],
        ["search/nightly", "3", "2026-11-02", "01:00"],
    ]
