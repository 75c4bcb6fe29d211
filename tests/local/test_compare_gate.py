"""`rag-eval compare` and `rag-eval gate` against the local stack: two runs of the same
samples, the second with a retriever that returns the wrong passages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag_eval.client import ScoreJobsClient
from rag_eval.local.stack import LocalStack
from testkit.scripted_judge import ScriptedJudge
from tests.support.stacks import judged_stack

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent
SAMPLES_FILE = Path(__file__).parents[2] / "rag_eval" / "sample_data" / "samples.jsonl"
BUNDLED = [json.loads(line) for line in SAMPLES_FILE.read_text(encoding="utf-8").splitlines()]
SAMPLES = [s | {"sample_id": f"{s['sample_id']}-{copy}"} for copy in (1, 2) for s in BUNDLED]
METRICS = ["faithfulness", "context_recall"]
WRONG = ["The museum is closed on Mondays.", "Tickets are sold at the entrance."]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Iterator[tuple[LocalStack, str, str]]:
    """GIVEN a baseline job and a candidate whose contexts are the wrong passages."""
    with ScriptedJudge() as judge, judged_stack(judge) as stack:
        client = ScoreJobsClient(stack.endpoint)
        baseline = client.submit({"samples": SAMPLES, "metrics": METRICS})["job_id"]
        worse = [s | {"contexts": WRONG} for s in SAMPLES]
        candidate = client.submit({"samples": worse, "metrics": METRICS})["job_id"]
        for job in (baseline, candidate):
            assert client.wait(job, timeout=120)["status"] == "completed"
        yield stack, baseline, candidate


def cli(stack: LocalStack, *arguments: str, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "rag-eval"), *arguments, "--out", str(out)],
        env={**os.environ, **stack.client_environment()},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_compare_finds_the_worse_retriever_and_writes_its_files(runs, tmp_path) -> None:
    stack, baseline, candidate = runs

    done = cli(stack, "compare", baseline, candidate, "--json", out=tmp_path)

    assert done.returncode == 0, done.stderr
    comparison = json.loads(done.stdout)
    verdicts = {c["metric"]: c["verdict"] for c in comparison["metrics"]}
    assert verdicts["context_recall"] == "regressed"
    assert comparison["matched"] == len(SAMPLES) and comparison["warnings"] == []
    assert comparison["regressions"][0]["why"]  # the judge's reason, from the evidence
    written = list((tmp_path / "score-async" / comparison["candidate_run"]).iterdir())
    assert {p.suffix for p in written} == {".md", ".html"}
    assert all(p.name.startswith(f"compare-{comparison['baseline_run']}") for p in written)


def test_the_gate_passes_fails_and_refuses_with_its_exit_codes(runs, tmp_path) -> None:
    stack, baseline, candidate = runs

    passing = cli(stack, "gate", baseline, "--min", "context_recall=0.5", out=tmp_path)
    below = cli(stack, "gate", candidate, "--min", "context_recall=0.9", out=tmp_path)
    regressed = cli(stack, "gate", candidate, "--baseline", baseline, out=tmp_path)
    tolerated = cli(
        stack,
        "gate",
        candidate,
        "--baseline",
        baseline,
        "--max-regression",
        "context_recall=1",
        "--max-regression",
        "faithfulness=1",
        out=tmp_path,
    )
    unknown = cli(stack, "gate", baseline, "--min", "bleu_score=0.5", out=tmp_path)

    assert passing.returncode == 0 and passing.stdout.startswith("gate: PASS"), passing.stdout
    assert below.returncode == 1 and "context_recall is below 0.9" in below.stdout
    assert regressed.returncode == 1 and "context_recall regressed by" in regressed.stdout
    assert tolerated.returncode == 0, tolerated.stdout
    assert unknown.returncode == 2 and "bleu_score" in unknown.stderr
