"""`rag-eval` in-process: what a person at a terminal types, sees and gets on disk."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rag_eval.cli.main import main
from rag_eval.metrics import MODEL_FREE_METRICS, REGISTRY
from testkit.scripted_judge import ScriptedJudge

BUNDLED_SAMPLES = Path(__file__).resolve().parents[2] / "rag_eval" / "sample_data" / "samples.jsonl"

ONE_SAMPLE = [
    "--question",
    "When was the Eiffel Tower completed?",
    "--answer",
    "The Eiffel Tower was completed in 1889.",
    "--context",
    "The Eiffel Tower was completed in 1889 as the entrance arch to the World's Fair.",
    "--context",
    "Gustave Eiffel's company designed and built the tower.",
    "--ground-truth",
    "The Eiffel Tower was completed in 1889.",
]


def run_folder(out: Path, job: dict) -> Path:
    return out / "score-async" / job["run_id"]


def test_score_without_a_judge_prints_a_completed_job_with_model_free_scores(
    no_judge_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no judge configured and one sample on the command line
    # WHEN it is scored with --json
    code = main(["score", *ONE_SAMPLE, "--json", "--out", str(tmp_path)])

    # THEN the job JSON says completed, with every model-free metric scored
    out, err = capsys.readouterr()
    job = json.loads(out)
    assert code == 0
    assert job["status"] == "completed"
    assert list(job["scores"]) == list(MODEL_FREE_METRICS)
    assert job["scores"]["exact_match"] == 1.0
    assert all(value is not None for value in job["scores"].values())
    assert job["coverage"] == 1.0
    assert job["weighted_score"] == round(job["weighted_score"], 4)
    assert job["token_usage"]["requests"] == 0

    # AND stderr notes that only model-free metrics were scored
    assert "model-free metrics only" in err
    assert "OPENAI_BASE_URL" in err

    # AND the run folder is written under --out
    folder = run_folder(tmp_path, job)
    assert (folder / "scores.csv").is_file()
    assert (folder / "summary.md").is_file()
    assert json.loads((folder / "metadata.json").read_text())["run_id"] == job["run_id"]


def test_score_prints_a_readable_summary_without_json(
    no_judge_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN chosen metrics WHEN scored without --json
    code = main(
        ["score", *ONE_SAMPLE, "--metrics", "exact_match,bleu_score", "--out", str(tmp_path)]
    )

    # THEN a person sees the state, each metric and where the run folder is
    out, err = capsys.readouterr()
    assert code == 0
    assert ": completed" in out
    assert "exact_match" in out and "1.0000" in out
    assert "weighted score:" in out
    assert f"run folder: {tmp_path / 'score-async'}" in out
    assert "model-free metrics only" not in err  # metrics were chosen, nothing to note


def test_score_the_bundled_samples_file(
    no_judge_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the samples file shipped with the package
    samples = [json.loads(line) for line in BUNDLED_SAMPLES.read_text().splitlines() if line]

    # WHEN it is scored
    code = main(["score", "--file", str(BUNDLED_SAMPLES), "--json", "--out", str(tmp_path)])

    # THEN every sample is scored and has its row in scores.csv
    job = json.loads(capsys.readouterr().out)
    assert code == 0
    assert job["status"] == "completed"
    assert job["sample_count"] == len(samples)
    with (run_folder(tmp_path, job) / "scores.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["sample_id"] for r in rows] == [s["sample_id"] for s in samples]


def test_score_a_csv_file_with_paragraph_contexts(
    no_judge_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a CSV with contexts as blank-line separated paragraphs, one sample without id
    path = tmp_path / "samples.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sample_id", "question", "answer", "contexts", "ground_truth"])
        writer.writerow(["tower", "When?", "In 1889.", "Built in 1889.\n\nIn Paris.", "In 1889."])
        writer.writerow(
            ["", "长城有多长？", "约两万公里。", "长城全长约两万公里。", "约两万公里。"]
        )

    # WHEN it is scored with chosen metrics
    out_dir = tmp_path / "runs"
    arguments = ["--file", str(path), "--metrics", "exact_match,chrf_score"]
    code = main(["score", *arguments, "--json", "--out", str(out_dir)])

    # THEN both rows are scored, the second under its position-based id
    job = json.loads(capsys.readouterr().out)
    assert code == 0
    assert job["scores"] == {"exact_match": 1.0, "chrf_score": 1.0}
    folder = run_folder(out_dir, job)
    with (folder / "scores.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["sample_id"] for r in rows] == ["tower", "sample-0002"]
    assert json.loads(rows[0]["contexts"]) == ["Built in 1889.", "In Paris."]


@pytest.mark.parametrize(
    ("arguments", "field", "words"),
    [
        (["--question", "", "--answer", "x"], "question", "at least 1 character"),
        (["--question", "q", "--metrics", "faithfulnes"], "metrics", "allowed: faithfulness"),
        (["--file", "no/such/samples.jsonl"], "--file", "no such file"),
        (
            ["--question", "q", "--metrics", "bleu_score", "--weight", "bleu_score=-1"],
            "weights",
            ">= 0",
        ),
        (["--answer", "a"], "--question", "required"),
    ],
    ids=["empty-question", "unknown-metric", "missing-file", "negative-weight", "no-question"],
)
def test_bad_input_exits_2_with_a_one_line_error_naming_the_field(
    no_judge_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    field: str,
    words: str,
) -> None:
    # GIVEN input that can't be scored
    # WHEN it is given to `rag-eval score`
    code = main(["score", *arguments, "--out", str(tmp_path)])

    # THEN the exit code is 2, stdout is empty, and one error line names the field
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2
    assert out == ""
    assert len(errors) == 1
    assert errors[0].startswith(f"error: {field}: ")
    assert words in errors[0]
    assert not (tmp_path / "score-async").exists()


def test_llm_metrics_without_a_judge_are_refused_naming_them(
    no_judge_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no judge, and a judge-backed metric asked for explicitly
    code = main(
        ["score", *ONE_SAMPLE, "--metrics", "faithfulness,bleu_score", "--out", str(tmp_path)]
    )

    # THEN it is refused before scoring, naming the metric and what is allowed
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: metrics: ")
    assert "faithfulness" in err and f"(allowed: {', '.join(MODEL_FREE_METRICS)})" in err


def test_score_with_a_jury_refuses_a_juror_it_cannot_reach_naming_it_as_a_flag(
    no_judge_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no OpenAI settings, and a jury of a Bedrock model and an OpenAI one
    jury = "bedrock:anthropic.claude-3-haiku-20240307-v1:0,gpt-4o"

    # WHEN it is given to `rag-eval score --judges`
    code = main(
        [
            "score",
            *ONE_SAMPLE,
            *("--metrics", "faithfulness", "--judges", jury),
            *("--out", str(tmp_path)),
        ]
    )

    # THEN it is refused before scoring, naming the OpenAI juror under --judges
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: --judges: juror gpt-4o cannot judge here")
    assert not (tmp_path / "score-async").exists()


def test_score_with_a_jury_and_a_judge_model_says_to_choose_in_flags(
    no_judge_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN both --judges and --judge-model
    # WHEN they are given to `rag-eval score`
    code = main(
        [
            "score",
            *ONE_SAMPLE,
            *("--metrics", "faithfulness", "--judges", "a,b", "--judge-model", "c"),
            *("--out", str(tmp_path)),
        ]
    )

    # THEN the one error says to choose, in the flags a person types
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: --judges: give a jury (--judges) or one judge (--judge-model)")


def test_a_dry_runs_estimate_shows_the_jury_and_what_it_multiplies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from rag_eval.app.estimate import estimate_samples
    from rag_eval.cli.render import print_estimate
    from rag_eval.domain.request import ScoreOptions
    from rag_eval.domain.sample import Sample
    from rag_eval.domain.settings import Settings

    # GIVEN the estimate of a job judged by a jury of three
    options = ScoreOptions(metrics=["faithfulness"], judges=["a", "b", "c"])
    sample = Sample(question="q", answer="an answer", contexts=["a context"])
    estimate = estimate_samples(options, Settings(), [sample])

    # WHEN a person reads it
    print_estimate(estimate)

    # THEN the jury is named, with the multiplication, before anything is spent
    out = capsys.readouterr().out
    assert "  jury: a + b + c: each judged metric's calls and tokens counted 3 times" in out


def test_metrics_json_lists_every_built_in_metric(capsys: pytest.CaptureFixture[str]) -> None:
    # WHEN the metrics are listed as JSON
    code = main(["metrics", "--json"])

    # THEN every metric of the registry is there, in its order, with its inputs, needs and
    # scale
    rows = json.loads(capsys.readouterr().out)
    assert code == 0
    assert rows == [spec.describe() for spec in REGISTRY.values()]
    faithfulness = rows[0]
    assert faithfulness["name"] == "faithfulness"
    assert faithfulness["inputs"] == ["question", "answer", "contexts"]
    assert faithfulness["needs_judge"] is True
    assert faithfulness["scale"] == {"low": 0.0, "high": 1.0, "higher_is_better": True}


def test_metrics_lists_names_with_their_needs_for_people(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["metrics"]) == 0
    out = capsys.readouterr().out
    lines = [line.strip() for line in out.splitlines()]
    assert "faithfulness (default)" in lines
    assert "needs: nothing" in out  # the model-free ones
    # Every built-in metric, each once
    assert [
        name for name in REGISTRY if lines.count(name) + lines.count(f"{name} (default)") != 1
    ] == []
    # A scale other than 0..1, and a direction other than higher is better, are said
    assert "inputs: question, answer, rubrics; needs: judge; scale 1..5" in lines
    assert (
        "inputs: question, answer, contexts, ground_truth; needs: judge; "
        "scale 0..1, lower is better"
    ) in lines


def test_metrics_says_how_to_define_your_own_with_the_bundled_examples(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["metrics"]) == 0
    out = capsys.readouterr().out
    own = out[out.index("Define your own") :]
    assert "--metric-file rag_eval/sample_data/criteria.yaml" in own
    assert "custom_metrics" in own
    assert "{question} {answer} {contexts} {ground_truth}" in own
    for name in ("cites_its_contexts", "refuses_without_support", "answers_in_question_language"):
        assert f"    {name}: " in own


def test_score_llm_metrics_against_the_configured_judge(
    judge_env: ScriptedJudge, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN OPENAI_BASE_URL pointing at a judge
    # WHEN judge-backed metrics are scored
    metrics = ["--metrics", "faithfulness,context_recall"]
    code = main(["score", *ONE_SAMPLE, *metrics, "--json", "--out", str(tmp_path)])

    # THEN they score, and the judge's tokens are reported
    out, err = capsys.readouterr()
    job = json.loads(out)
    assert code == 0
    assert job["status"] == "completed"
    assert job["scores"] == {"faithfulness": 1.0, "context_recall": 1.0}
    assert job["request_summary"]["judge_model"] == "gpt-4o-mini"
    assert job["token_usage"]["requests"] > 0
    assert "model-free metrics only" not in err
    assert judge_env.stats().calls_by_title["ContextRecallOutput"] == 1


def test_a_bad_setting_is_one_line_naming_it_and_only_where_it_is_read(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a local-stack setting that is not a number
    monkeypatch.setenv("RAG_EVAL_VISIBILITY_TIMEOUT", "abc")

    # WHEN the command that reads it runs THEN it refuses with one line naming the variable
    assert main(["local", "start", "--port", "0"]) == 2
    assert capsys.readouterr().err == (
        "error: setting RAG_EVAL_VISIBILITY_TIMEOUT must be an integer, got 'abc'\n"
    )
    # AND a command that does not read it is not disturbed
    assert main(["metrics", "--markdown"]) == 0
    assert capsys.readouterr().out.startswith(
        "| metric | what it measures | inputs | scale | needs |"
    )


def test_the_same_mistake_on_many_rows_is_one_line_with_the_likely_name(
    no_judge_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN 300 rows with the question's key misspelt
    rows = tmp_path / "typo.jsonl"
    rows.write_text(
        "\n".join(json.dumps({"questoin": f"q{i}?", "response": "a"}) for i in range(300)),
        encoding="utf-8",
    )

    # WHEN they are scored THEN the mistake is one line counting the rows, with the likely name
    assert main(["score", "--file", str(rows), "--metrics", "chrf_score"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "error: typo.jsonl 300 rows (line 1 .. line 300): question: required: give question "
        "or user_input; questoin is not a field (did you mean question?)",
    ]


def test_rows_with_ragas_names_are_scored_and_extra_columns_named_once(
    no_judge_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN rows as a ragas testset exports them (with the RAG system's responses): its
    # names, and columns of no sample field
    rows = tmp_path / "testset.jsonl"
    row = {
        "user_input": "q?",
        "response": "a",
        "reference": "a",
        "reference_contexts": ["c"],
        "synthesizer_name": "s",
    }
    rows.write_text("\n".join(json.dumps(row) for _ in range(3)), encoding="utf-8")

    # WHEN they are scored
    arguments = ["--file", str(rows), "--metrics", "exact_match", "--json", "--out", str(tmp_path)]
    code = main(["score", *arguments])

    # THEN every row is scored, and the ignored columns are said once
    out, err = capsys.readouterr()
    assert code == 0
    assert json.loads(out)["sample_count"] == 3 and json.loads(out)["scores"]["exact_match"] == 1
    assert (
        "testset.jsonl: ignoring reference_contexts, synthesizer_name (not sample fields: "
        "sample_id, question, answer, contexts, ground_truth, rubrics, reference_tool_calls, "
        "reference_topics, metadata)"
    ) in err.splitlines()


def test_bad_rows_are_reported_together_up_to_twenty_problems(tmp_path: Path) -> None:
    from rag_eval.cli.samples import load_samples
    from rag_eval.domain.errors import RequestInvalid

    # GIVEN 30 rows, each broken its own way
    rows = tmp_path / "broken.jsonl"
    rows.write_text(
        "\n".join('{"question": "q"' + " " * i + "," for i in range(30)), encoding="utf-8"
    )

    # WHEN the file is read THEN the first twenty problems are named, and how many more there are
    with pytest.raises(RequestInvalid) as caught:
        load_samples(rows)
    problems = caught.value.problems
    assert len(problems) == 21
    assert problems[0] == {
        "field": "broken.jsonl line 1: line",
        "message": "is not valid JSON (Expecting property name enclosed in double quotes at "
        "column 18)",
    }
    assert problems[-1] == {
        "field": "--file",
        "message": f"{rows} has 10 more problem(s); fix these first",
    }


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jsonl", "", "has no samples (it holds nothing); add one per line"),
        (
            "header.csv",
            "question,answer\n",
            "has no samples (it holds a header only); add one per row under the header",
        ),
    ],
)
def test_a_file_without_samples_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert main(["score", "--file", str(path), "--metrics", "chrf_score"]) == 2
    assert capsys.readouterr().err == f"error: --file: {path} {message}\n"


def test_with_json_the_error_is_machine_readable_on_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # WHEN a metric name is mistyped with --json
    assert main(["score", "--question", "q", "--metrics", "chrf", "--json"]) == 2

    # THEN stdout is the error in the API's shape, stderr the line for people
    out, err = capsys.readouterr()
    error = json.loads(out)["error"]
    assert error["code"] == "invalid_request"
    assert error["details"][0]["field"] == "metrics"
    assert error["details"][0]["message"] == "unknown metric(s): chrf (did you mean chrf_score?)"
    assert err.startswith("error: metrics: unknown metric(s): chrf (did you mean chrf_score?)")


def test_the_bundled_csv_holds_the_bundled_samples() -> None:
    from rag_eval.cli.samples import load_samples
    from rag_eval.domain.request import ScoreRequest

    def parsed(name: str) -> list:
        path = BUNDLED_SAMPLES.with_name(name)
        return ScoreRequest.model_validate({"samples": load_samples(path)}).samples

    assert parsed("samples.csv") == parsed("samples.jsonl")


def test_a_failing_narrative_shows_one_line_of_ours_and_nothing_of_the_libraries(
    judge_env: ScriptedJudge, tmp_path: Path
) -> None:
    # GIVEN a judge that answers the advice narrative with garbage (instructor retries it)
    judge_env.fail_next("garbage", count=10, fail_titles={"AdviceNarrative"})

    # WHEN a sample is scored, in a process of its own as a person runs it
    command = [str(Path(sys.executable).with_name("rag-eval")), "score", *ONE_SAMPLE]
    done = subprocess.run(
        [*command, "--metrics", "faithfulness", "--out", str(tmp_path)],
        env=os.environ | {"RAGAS_DO_NOT_TRACK": "true"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # THEN the job completes; stderr holds our own warning only, none of instructor's lines
    assert done.returncode == 0, done.stderr
    assert "WARNING rag_eval.advice.narrative: advice narrative failed" in done.stderr
    assert all(line.startswith("WARNING rag_eval.") for line in done.stderr.splitlines()), (
        done.stderr
    )


def test_metrics_are_chosen_the_same_way_for_score_and_submit() -> None:
    from rag_eval.cli.scoring import choose_metrics
    from rag_eval.domain.turns import CONVERSATION_METRICS
    from rag_eval.metrics import DEFAULT_METRICS

    everything = list(REGISTRY)
    no_embeddings = [m for m in everything if not REGISTRY[m].needs_embeddings]

    assert choose_metrics(["chrf_score"], []) == (["chrf_score"], "as requested")
    assert choose_metrics(None, everything) == (list(DEFAULT_METRICS), "the default set")
    # A judge but no embeddings: the default set without answer_relevancy, saying so
    metrics, why = choose_metrics(None, no_embeddings)
    assert metrics == [m for m in DEFAULT_METRICS if m != "answer_relevancy"]
    assert why == "the default set but answer_relevancy, which cannot be scored here"
    # No judge at all: the model-free metrics
    metrics, why = choose_metrics(None, list(MODEL_FREE_METRICS))
    assert metrics == list(MODEL_FREE_METRICS) and why.startswith("model-free metrics only")
    # Conversations: the conversation metrics, those without a judge when there is none
    conversations = choose_metrics(None, everything, conversations=True)
    assert conversations == (list(CONVERSATION_METRICS), "the default set")
    model_free = [m for m in everything if REGISTRY[m].model_free]
    metrics, why = choose_metrics(None, model_free, conversations=True)
    assert metrics == ["tool_call_accuracy", "tool_call_f1"]
    assert why == "the default set but agent_goal_accuracy, which cannot be scored here"


def test_score_says_what_the_cache_saved_and_when_the_budget_ran_out(
    judge_env, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the bundled samples scored once, so that their verdicts are cached
    arguments = ["score", "--file", str(BUNDLED_SAMPLES), "--metrics", "faithfulness"]
    assert main([*arguments, "--out", str(tmp_path)]) == 0
    capsys.readouterr()

    # WHEN they are scored again from the cache, then asked afresh under an 8-call budget
    assert main([*arguments, "--out", str(tmp_path)]) == 0
    cached = capsys.readouterr().out
    assert (
        main([*arguments, "--cache", "refresh", "--max-judge-calls", "8", "--out", str(tmp_path)])
        == 0
    )
    budgeted = capsys.readouterr().out

    # THEN each run says so
    assert re.search(r"cache: \d+ hits, 0 judge calls, \$[\d.]+ saved", cached)
    assert "cost: $0.0000" in cached
    assert "budget exhausted after 8 judge calls" in budgeted
    assert "report: " in budgeted
