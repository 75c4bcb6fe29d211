"""`rag-eval compare` and `rag-eval gate` against the local stack: two runs of the same
samples, the second with a retriever that returns the wrong passages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag_eval.client import ScoreJobsClient
from rag_eval.local.stack import LocalStack
from testkit.scripted_judge import ScriptedJudge
from tests.support.stacks import judged_stack
from tests.support.stacks import stack_cli as cli

pytestmark = pytest.mark.slow

SAMPLES_FILE = Path(__file__).parents[2] / "rag_eval" / "sample_data" / "samples.jsonl"
BUNDLED = [json.loads(line) for line in SAMPLES_FILE.read_text(encoding="utf-8").splitlines()]
SAMPLES = [s | {"sample_id": f"{s['sample_id']}-{copy}"} for copy in (1, 2) for s in BUNDLED]
METRICS = ["faithfulness", "context_recall"]
WRONG = ["The museum is closed on Mondays.", "Tickets are sold at the entrance."]
# Three samples whose passages hold their answers (not the retrieval miss).
FEW = [s for s in BUNDLED if s["sample_id"] in ("en-eiffel", "en-lambda-timeout", "zh-capital")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Iterator[tuple[LocalStack, str, str, str, str]]:
    """GIVEN a baseline job and a candidate whose contexts are the wrong passages, and the
    same two over three samples only."""
    with ScriptedJudge() as judge, judged_stack(judge) as stack:
        client = ScoreJobsClient(stack.endpoint)
        jobs = [
            client.submit({"samples": samples, "metrics": METRICS}).job_id
            for samples in (
                SAMPLES,
                [s | {"contexts": WRONG} for s in SAMPLES],
                FEW,
                [s | {"contexts": WRONG} for s in FEW],
            )
        ]
        for job in jobs:
            assert client.wait(job, timeout=120).status == "completed"
        yield stack, *jobs


def test_compare_finds_the_worse_retriever_and_writes_its_files(runs, tmp_path) -> None:
    stack, baseline, candidate, *_ = runs

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
    stack, baseline, candidate, *_ = runs

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
    no_rule = cli(stack, "gate", baseline, out=tmp_path)

    assert passing.returncode == 0 and passing.stdout.startswith("gate: PASS"), passing.stdout
    assert below.returncode == 1 and "context_recall is below 0.9" in below.stdout
    assert regressed.returncode == 1 and "context_recall regressed by" in regressed.stdout
    assert tolerated.returncode == 0, tolerated.stdout
    assert unknown.returncode == 2 and "bleu_score" in unknown.stderr
    assert no_rule.returncode == 2 and "a gate with no rule passes anything" in no_rule.stderr


def test_a_loss_on_too_few_pairs_is_neither_passed_nor_failed(runs, tmp_path) -> None:
    # GIVEN three samples scored with the right passages, then with the wrong ones
    stack, *_, small_baseline, small_candidate = runs

    # WHEN the small candidate is compared and gated against the small baseline
    compared = cli(stack, "compare", small_baseline, small_candidate, "--json", out=tmp_path)
    gated = cli(stack, "gate", small_candidate, "--baseline", small_baseline, out=tmp_path)

    # THEN compare says what the interval shows and that it cannot be tested, and the gate
    # says it cannot tell, with its own exit code and what to do
    recall = next(
        c for c in json.loads(compared.stdout)["metrics"] if c["metric"] == "context_recall"
    )
    assert recall["high"] < 0 and recall["verdict"] == "likely regressed", recall
    assert recall["underpowered"] and "3 pairs cannot be tested" in recall["note"]
    assert gated.returncode == 5, gated.stdout
    first, *rest = gated.stdout.splitlines()
    assert first.startswith("gate: CANNOT TELL: faithfulness: too few pairs to test a loss of")
    assert first.endswith("score more samples in both runs (and 1 more, below)")
    assert rest[-1].startswith("  - context_recall: too few pairs to test a loss of more than 0")
