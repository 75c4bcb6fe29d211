"""A jury of judges (`judges`) against the scripted judge: each juror scores every judged
metric, the sample's value is theirs together, the jurors' agreement is Krippendorff's
alpha, and the verdict cache serves each juror on its own."""

from __future__ import annotations

import asyncio
import json
from importlib.resources import files
from pathlib import Path

from rag_eval.adapters.local_files import DiskVerdictStore, LocalObjectStore
from rag_eval.app.pipeline import ScoringPipeline
from rag_eval.domain.job import new_job
from rag_eval.domain.request import parse_request
from rag_eval.domain.results import SampleResult
from rag_eval.domain.settings import Settings
from rag_eval.metrics import REGISTRY
from rag_eval.scoring.jury import jury_verdict
from rag_eval.scoring.scorer import Scorer
from testkit.scripted_judge import ScriptedJudge

SAMPLES = [
    json.loads(line)
    for line in (files("rag_eval") / "sample_data" / "samples.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
]
METRICS = ["faithfulness", "context_recall", "chrf_score"]
JURY = ["judge-a", "judge-b", "judge-c"]


def run_job(tmp_path: Path, judges: list[str] | None, cache: Path | None = None):
    settings = Settings.from_env()
    body = {"samples": SAMPLES, "metrics": METRICS}
    if judges:
        body["judges"] = judges
    request = parse_request(body)
    verdicts = DiskVerdictStore(cache) if cache is not None else None
    pipeline = ScoringPipeline(settings, LocalObjectStore(tmp_path / "runs"), verdicts)
    return asyncio.run(pipeline.arun(new_job(request, settings), request))


def test_a_jury_of_identical_judges_agrees_fully_and_scores_as_one(
    judge_env: ScriptedJudge, tmp_path: Path
) -> None:
    # GIVEN the same samples scored by one model, then by a jury of three that answer alike
    scorer = Scorer(Settings.from_env())
    alone = scorer.score(parse_request({"samples": SAMPLES, "metrics": METRICS}))
    calls = judge_env.total_calls
    together = scorer.score(parse_request({"samples": SAMPLES, "metrics": METRICS, "judges": JURY}))

    # THEN the jury's means are the one judge's, and it asked three times as much
    assert together.means == alone.means
    assert judge_env.total_calls - calls == 3 * calls
    assert together.results[0].jurors["faithfulness"] == dict.fromkeys(
        JURY, alone.results[0].scores["faithfulness"]
    )

    # AND as a job, per judged metric its jurors agree fully
    jury = run_job(tmp_path, JURY)
    assert set(jury.jury) == {"faithfulness", "context_recall"}
    for agreement in jury.jury.values():
        assert agreement.jurors == JURY and agreement.alpha == 1.0
        assert agreement.disagreements == [] and agreement.samples == len(SAMPLES)


def test_a_lenient_juror_moves_the_mean_and_shows_where_the_jury_disagrees(
    judge_env: ScriptedJudge, tmp_path: Path
) -> None:
    # GIVEN a jury whose third juror calls a claim supported on far less evidence
    judge_env.model_thresholds = {"judge-c": 0.05}

    job = run_job(tmp_path, JURY)

    # THEN faithfulness is the jurors' mean, sample by sample, and they do not fully agree
    agreement = job.jury["faithfulness"]
    assert agreement.alpha is not None and agreement.alpha < 1.0
    top = agreement.disagreements[0]
    assert top.scores["judge-c"] is not None and top.spread > 0
    assert top.scores["judge-c"] >= max(top.scores["judge-a"] or 0, top.scores["judge-b"] or 0)
    assert [d.spread for d in agreement.disagreements] == sorted(
        (d.spread for d in agreement.disagreements), reverse=True
    )


def test_the_cache_serves_each_juror_on_its_own(judge_env: ScriptedJudge, tmp_path: Path) -> None:
    # GIVEN a jury's job scored once, its verdicts cached
    cache = tmp_path / "cache"
    first = run_job(tmp_path, JURY, cache)
    asked = judge_env.total_calls

    # WHEN the same jury scores it again, then a jury that shares two of its jurors
    again = run_job(tmp_path, JURY, cache)
    after_again = judge_env.total_calls
    changed = run_job(tmp_path, ["judge-a", "judge-b", "judge-d"], cache)

    # THEN the repeat asks the judge nothing; the new juror alone is asked, a third as much
    assert after_again == asked and again.scores == first.scores
    assert again.cache is not None and again.cache.misses == 0
    assert judge_env.total_calls - after_again == asked // 3
    assert changed.cache is not None and changed.cache.hits > 0


def test_a_metric_of_categories_takes_the_majority_and_the_first_jurors_on_a_tie() -> None:
    # GIVEN three jurors' answers on a job's discrete metric (yes 1, partly 0.5, no 0)
    spec = REGISTRY["faithfulness"]  # any judged spec: its name is what is written
    ballots = [
        SampleResult(
            sample_id="s",
            scores={spec.name: value},
            categories={spec.name: category},
            evidence={spec.name: {"juror": juror}},
        )
        for juror, category, value in (("a", "no", 0.0), ("b", "yes", 1.0), ("c", "yes", 1.0))
    ]
    result = SampleResult(sample_id="s", scores={spec.name: None})

    jury_verdict(spec, result, ballots, ["a", "b", "c"])

    # THEN the majority's category, its number, and its juror's evidence
    assert (result.categories[spec.name], result.scores[spec.name]) == ("yes", 1.0)
    assert result.evidence[spec.name] == {"juror": "b"}
    assert result.jurors[spec.name] == {"a": 0.0, "b": 1.0, "c": 1.0}
    # AND on a tie, the category of the first juror (in the job's order) of those tied
    tie = SampleResult(sample_id="s", scores={spec.name: None})
    jury_verdict(spec, tie, ballots[:2], ["a", "b"])
    assert tie.categories[spec.name] == "no"


def test_a_pair_no_juror_scored_keeps_the_first_jurors_reason_and_one_scored_says_who_failed() -> (
    None
):
    spec = REGISTRY["faithfulness"]
    failed = SampleResult(sample_id="s", scores={spec.name: None}, reasons={spec.name: "timeout"})
    scored = SampleResult(sample_id="s", scores={spec.name: 0.5})

    nobody = SampleResult(sample_id="s", scores={spec.name: None})
    jury_verdict(spec, nobody, [failed, failed], ["a", "b"])
    some = SampleResult(sample_id="s", scores={spec.name: None})
    jury_verdict(spec, some, [failed, scored], ["a", "b"])

    assert nobody.scores[spec.name] is None and nobody.reasons[spec.name] == "timeout"
    assert some.scores[spec.name] == 0.5
    assert some.details[spec.name] == "scored by 1 of 2 jurors; a: timeout"
