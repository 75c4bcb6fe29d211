"""A job's own metrics and the new built-in ones on the local stack: submitted through the
API, scored by the worker, written to the run folder, compared and gated like any metric;
an edited definition is another metric for the verdict cache and for compare."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag_eval.client import ScoreJobsClient
from rag_eval.local.stack import LocalStack
from testkit.scripted_judge import ScriptedJudge
from tests.support.stacks import judged_stack
from tests.support.stacks import stack_cli as cli

pytestmark = pytest.mark.slow

SAMPLES_FILE = Path(__file__).parents[2] / "rag_eval" / "sample_data" / "samples.jsonl"
BUNDLED = [json.loads(line) for line in SAMPLES_FILE.read_text(encoding="utf-8").splitlines()]
CITES = {
    "name": "cites_its_contexts",
    "instructions": "Question: {question}\nContexts:\n{contexts}\nAnswer: {answer}\n"
    "Does every claim of the answer cite a context that supports it?",
    "kind": "discrete",
    "values": {"yes": 1, "partly": 0.5, "no": 0},
}
EDITED = CITES | {"instructions": CITES["instructions"] + " Be strict."}
RUBRIC = {f"score{n}_description": f"covers {n} of 5 facts" for n in range(1, 6)}
METRICS = ["faithfulness", "cites_its_contexts", "noise_sensitivity", "instance_specific_rubrics"]


def body(definition: dict[str, Any]) -> dict[str, Any]:
    return {
        "samples": [s | {"rubrics": RUBRIC} for s in BUNDLED],
        "metrics": METRICS,
        "custom_metrics": [definition],
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Iterator[tuple[LocalStack, ScriptedJudge, dict[str, Any]]]:
    """GIVEN a job with a metric of its own, the same job again, and the job with the
    metric's instructions edited."""
    with ScriptedJudge() as judge, judged_stack(judge) as stack:
        client = ScoreJobsClient(stack.endpoint)
        jobs: dict[str, Any] = {}
        asked: dict[str, dict[str, int]] = {}
        for label, definition in (("first", CITES), ("again", CITES), ("edited", EDITED)):
            judge.reset_stats()
            job_id = client.submit(body(definition)).job_id
            jobs[label] = client.wait(job_id, timeout=180)
            asked[label] = dict(judge.calls_by_title)
        yield stack, judge, {"jobs": jobs, "asked": asked, "client": client}


def test_the_run_folder_holds_the_metric_its_category_and_definition(runs, tmp_path) -> None:
    _, _, found = runs
    job = found["jobs"]["first"]
    assert job.status == "completed", job
    assert set(job.scores) == set(METRICS)

    # THEN scores.csv keeps each sample's category beside its number
    paths = found["client"].download_artifacts(job.job_id, tmp_path)
    files = {p.name: p for p in paths}
    rows = list(csv.DictReader(io.StringIO(files["scores.csv"].read_text(encoding="utf-8"))))
    assert len(rows) == len(BUNDLED)
    for row in rows:
        category = row["cites_its_contexts.category"]
        assert float(row["cites_its_contexts"]) == CITES["values"][category]
        assert 1 <= float(row["instance_specific_rubrics"]) <= 5

    # AND metadata.json says what the metric is, and its scale; explanations hold the reason
    metadata = json.loads(files["metadata.json"].read_text(encoding="utf-8"))
    cites = metadata["metrics"]["cites_its_contexts"]
    assert cites["definition"]["instructions"] == CITES["instructions"]
    assert len(cites["fingerprint"]) == 12
    assert cites["scale"] == {"low": 0, "high": 1, "higher_is_better": True}
    assert metadata["metrics"]["noise_sensitivity"]["scale"]["higher_is_better"] is False
    assert metadata["metrics"]["instance_specific_rubrics"]["scale"]["high"] == 5
    assert "cites_its_contexts" in metadata["intervals"]
    lines = files["explanations.jsonl"].read_text(encoding="utf-8").splitlines()
    explained = json.loads(lines[0])["metrics"]["cites_its_contexts"]
    assert explained["category"] in CITES["values"] and explained["evidence"]["reason"]
    assert "cites_its_contexts" in files["report.html"].read_text(encoding="utf-8")


def test_a_rerun_asks_the_judge_nothing_and_an_edit_asks_for_the_edited_metric(runs) -> None:
    _, _, found = runs
    asked = found["asked"]
    assert asked["first"]["DiscreteResponseModel"] == len(BUNDLED)
    assert {k: n for k, n in asked["again"].items() if k != "AdviceNarrative"} == {}
    edited = {k: n for k, n in asked["edited"].items() if k != "AdviceNarrative"}
    assert edited == {"DiscreteResponseModel": len(BUNDLED)}


def test_compare_says_an_edited_definition_is_another_metric(runs, tmp_path) -> None:
    stack, _, found = runs
    first, again, edited = (found["jobs"][k].job_id for k in ("first", "again", "edited"))

    same = json.loads(cli(stack, "compare", first, again, "--json", out=tmp_path).stdout)
    changed = json.loads(cli(stack, "compare", first, edited, "--json", out=tmp_path).stdout)

    assert "cites_its_contexts" in {c["metric"] for c in same["metrics"]}
    assert not any("definition" in w for w in same["warnings"])
    assert "cites_its_contexts" not in {c["metric"] for c in changed["metrics"]}
    assert any("definition of cites_its_contexts changed" in w for w in changed["warnings"])


def test_the_gate_reads_each_metric_on_its_own_scale(runs, tmp_path) -> None:
    stack, _, found = runs
    job = found["jobs"]["first"].job_id

    passing = cli(
        stack,
        "gate",
        job,
        "--min",
        "cites_its_contexts=0",
        "--min",
        "instance_specific_rubrics=1",
        "--max",
        "noise_sensitivity=1",
        out=tmp_path,
    )
    failing = cli(stack, "gate", job, "--max", "noise_sensitivity=-0.5", out=tmp_path)
    refused = cli(stack, "gate", job, "--min", "noise_sensitivity=0.2", out=tmp_path)

    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert failing.returncode in (1, 2), failing.stdout + failing.stderr
    assert refused.returncode == 2 and "--max" in refused.stderr
