"""`--metric-file`: metrics a team defines, read from YAML or JSON, checked as the API checks
them, and sent or scored next to the metrics asked for."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag_eval.cli.main import main
from rag_eval.cli.metric_files import load_metric_file
from rag_eval.cli.scoring import with_defined_metrics
from rag_eval.domain.errors import RequestInvalid
from rag_eval.metrics import DEFAULT_METRICS, REGISTRY
from rag_eval.metrics.custom import CustomMetric
from testkit.scripted_judge import ScriptedJudge
from tests.client.test_client import ScriptedApi, submitted

ROOT = Path(__file__).resolve().parents[2]
CRITERIA = ROOT / "rag_eval" / "sample_data" / "criteria.yaml"
BUNDLED_SAMPLES = ROOT / "rag_eval" / "sample_data" / "samples.jsonl"
EXAMPLES = ("cites_its_contexts", "refuses_without_support", "answers_in_question_language")

ONE_METRIC_YAML = """\
- name: polite
  kind: discrete
  instructions: |
    Question: {question}
    Answer: {answer}
    Is the answer polite? Answer yes or no.
  values:
    yes: 1
    no: 0
"""
ONE_METRIC = {
    "name": "polite",
    "kind": "discrete",
    "instructions": "Question: {question}\nAnswer: {answer}\nIs the answer polite? Answer yes "
    "or no.",
    "values": {"yes": 1.0, "no": 0.0},
}
ONE_SAMPLE = ["--question", "When?", "--answer", "In 1889.", "--context", "Built in 1889."]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- reading the file ---------------------------------------------------------------------------


def test_a_yaml_list_of_definitions_is_read_as_the_api_reads_them(tmp_path: Path) -> None:
    # GIVEN a YAML list whose discrete answers are yes and no, unquoted
    path = write(tmp_path, "criteria.yaml", ONE_METRIC_YAML)

    # WHEN it is read THEN yes and no stay answers (not YAML 1.1's booleans), and the
    # definition is the API's, ready to send
    assert load_metric_file(path) == [ONE_METRIC]


def test_definitions_under_custom_metrics_in_yaml_or_json_read_the_same(tmp_path: Path) -> None:
    as_yaml = write(
        tmp_path,
        "a.yaml",
        "custom_metrics:\n" + "\n".join(f"  {line}" for line in ONE_METRIC_YAML.splitlines()),
    )
    as_json = write(tmp_path, "a.json", json.dumps({"custom_metrics": [ONE_METRIC]}))
    as_json_list = write(tmp_path, "b.json", json.dumps([ONE_METRIC]))
    assert load_metric_file(as_yaml) == load_metric_file(as_json) == [ONE_METRIC]
    assert load_metric_file(as_json_list) == [ONE_METRIC]


def test_the_bundled_examples_are_the_three_a_rag_team_writes() -> None:
    # GIVEN the examples shipped with the samples WHEN they are read as the API reads them
    definitions = {d["name"]: CustomMetric.model_validate(d) for d in load_metric_file(CRITERIA)}

    # THEN they are the three discrete metrics, with their answers and numbers
    assert tuple(definitions) == EXAMPLES
    assert all(metric.kind == "discrete" for metric in definitions.values())
    assert definitions["cites_its_contexts"].values == {"yes": 1, "partly": 0.5, "no": 0}
    refuses = definitions["refuses_without_support"].values or {}
    assert refuses["refuses_correctly"] == refuses["answers_supported"] == 1
    assert refuses["guesses"] == 0
    assert definitions["answers_in_question_language"].values == {"yes": 1, "no": 0}
    # AND the judge reads what each needs: the contexts where citations and support matter
    assert definitions["cites_its_contexts"].inputs == ("question", "contexts", "answer")
    assert definitions["refuses_without_support"].inputs == ("question", "contexts", "answer")
    assert definitions["answers_in_question_language"].inputs == ("question", "answer")
    assert all(metric.description for metric in definitions.values())


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (None, None, "no such file: {path}"),
        ("folder", None, "{path} is a folder, not a file"),
        ("bad.yaml", "- name: [x\n", "{path} is not valid YAML ("),
        ("bad.json", "[{", "{path} is not valid JSON ("),
        ("empty.yaml", "", "{path} holds nothing, not metric definitions"),
        ("scalar.yaml", "42\n", "{path} holds a number, not metric definitions"),
        ("one.yaml", "name: x\nkind: discrete\n", "{path} holds a mapping without custom_metrics"),
        (
            "more.yaml",
            "custom_metrics: []\nmetrics: [faithfulness]\n",
            "{path} holds metrics besides custom_metrics",
        ),
        ("none.yaml", "custom_metrics: []\n", "{path} defines no metric"),
    ],
    ids=[
        "missing",
        "folder",
        "not-yaml",
        "not-json",
        "empty",
        "scalar",
        "one-definition",
        "other-keys",
        "no-definitions",
    ],
)
def test_a_file_that_holds_no_definitions_is_refused_naming_the_flag(
    no_judge_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str | None,
    text: str | None,
    message: str,
) -> None:
    # GIVEN a --metric-file that is missing, unreadable or not a list of definitions
    path = tmp_path / (name or "missing.yaml")
    if name == "folder":
        path.mkdir()
    elif text is not None:
        path.write_text(text, encoding="utf-8")

    # WHEN it is given to `score`
    code = main(["score", *ONE_SAMPLE, "--metric-file", str(path), "--out", str(tmp_path)])

    # THEN it exits 2 with one line naming --metric-file and what is wrong, nothing scored
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: --metric-file: {message.format(path=path)}")
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "score-async").exists()


def test_a_file_problem_with_json_is_the_apis_error_shape(
    no_judge_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "missing.yaml"
    assert main(["score", *ONE_SAMPLE, "--metric-file", str(path), "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["code"] == "invalid_request"
    assert error["details"] == [{"field": "--metric-file", "message": f"no such file: {path}"}]


# --- invalid definitions: the API's problems ----------------------------------------------------

INVALID_YAML = """\
- name: polite
  kind: discrete
  instructions: Is {reply} polite? Answer yes or no.
  values: {yes: 1, no: 0}
- name: faithfulness
  kind: numeric
  instructions: "How long is {answer}?"
  range: [0, 10]
- name: polite
  kind: rubric
  instructions: "Rate {answer}."
  rubric: {"1": bad, "5": good}
"""


def test_invalid_definitions_are_the_apis_problems_before_any_judge_call(
    judge_env: ScriptedJudge, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a judge, and a file of definitions with mistakes the API refuses
    path = write(tmp_path, "criteria.yaml", INVALID_YAML)
    calls = judge_env.stats().total_calls

    # WHEN the bundled samples are scored with it, --json
    arguments = ["--file", str(BUNDLED_SAMPLES), "--metric-file", str(path), "--json"]
    code = main(["score", *arguments, "--out", str(tmp_path)])

    # THEN it exits 2, each problem named by its field as the API names it (422), and the
    # judge was never asked
    out, err = capsys.readouterr()
    assert code == 2
    details = json.loads(out)["error"]["details"]
    fields = [problem["field"] for problem in details]
    assert fields == [
        "custom_metrics[0].instructions",
        "custom_metrics[1].name",
        "custom_metrics[2].rubric",
    ]
    assert details[0]["message"].startswith("unknown placeholder {reply}; allowed: {question}")
    assert "'faithfulness' is reserved" in details[1]["message"]
    assert details[2]["message"] == "describe every score from 1 to 5; missing: 2, 3, 4"
    assert f"error: custom_metrics[0].instructions: {details[0]['message']}" in err.splitlines()
    assert judge_env.stats().total_calls == calls
    assert not (tmp_path / "score-async").exists()


def test_a_name_defined_twice_is_refused_at_the_second(tmp_path: Path) -> None:
    path = write(tmp_path, "twice.json", json.dumps([ONE_METRIC, ONE_METRIC]))
    with pytest.raises(RequestInvalid) as caught:
        load_metric_file(path)
    assert caught.value.problems == [
        {
            "field": "custom_metrics[1].name",
            "message": "'polite' is defined twice; names must differ",
        }
    ]


def test_more_than_ten_definitions_are_refused_with_the_limit(tmp_path: Path) -> None:
    many = [ONE_METRIC | {"name": f"polite_{index}"} for index in range(11)]
    with pytest.raises(RequestInvalid) as caught:
        load_metric_file(write(tmp_path, "many.json", json.dumps(many)))
    [problem] = caught.value.problems
    assert problem["field"] == "custom_metrics"
    assert problem["allowed"] == "at most 10"


# --- which metrics are asked for ----------------------------------------------------------------


def test_the_files_metrics_are_scored_besides_the_default_set_or_the_metrics_asked() -> None:
    defined = load_metric_file(CRITERIA)

    # Not named by --metrics: all of the file's, after the metrics chosen otherwise
    metrics, sent, why = with_defined_metrics(
        list(DEFAULT_METRICS), defined, "the default set", "criteria.yaml"
    )
    assert metrics == [*DEFAULT_METRICS, *EXAMPLES]
    assert sent == defined
    assert why == "the default set; plus the 3 metrics of criteria.yaml"
    metrics, _, why = with_defined_metrics(["faithfulness"], defined, "", "criteria.yaml")
    assert metrics == ["faithfulness", *EXAMPLES]
    assert why == "as requested; plus the 3 metrics of criteria.yaml"

    # Named by --metrics: those alone, and only their definitions are sent
    metrics, sent, why = with_defined_metrics(
        ["chrf_score", "cites_its_contexts"], defined, "", "criteria.yaml"
    )
    assert metrics == ["chrf_score", "cites_its_contexts"]
    assert [d["name"] for d in sent] == ["cites_its_contexts"]
    assert why == ""


def test_without_a_judge_the_files_metrics_are_refused_naming_them(
    no_judge_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["--metric-file", str(CRITERIA), "--metrics", "exact_match"]
    code = main(["score", *ONE_SAMPLE, *arguments, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert (
        "metrics: exact_match, cites_its_contexts, refuses_without_support, "
        "answers_in_question_language (as requested; plus the 3 metrics of criteria.yaml)"
    ) in err.splitlines()
    assert "error: metrics: metric(s) cites_its_contexts, refuses_without_support, " in err


# --- submit -------------------------------------------------------------------------------------


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    with ScriptedApi() as running:
        every = [
            spec.describe() | {"available": True, "unavailable": None} for spec in REGISTRY.values()
        ]
        rules = {
            "kinds": ["discrete", "numeric", "rubric"],
            "placeholders": ["question", "answer", "contexts", "ground_truth"],
            "max_per_job": 10,
            "max_name_chars": 63,
            "max_instructions_chars": 5000,
        }
        catalogue = {"metrics": every, "define_your_own": rules}
        running.script[("GET", "/v1/metrics")] = [(200, catalogue)]
        running.script[("POST", "/v1/score-jobs")] = [(202, submitted())]
        yield running


def submissions(api: ScriptedApi) -> list[dict[str, Any]]:
    return [seen.body for seen in api.seen if seen.method == "POST"]


def test_submit_sends_the_definitions_as_custom_metrics_with_their_names_asked(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN the bundled samples are submitted with the bundled examples and one metric more
    arguments = ["--file", str(BUNDLED_SAMPLES), "--metric-file", str(CRITERIA)]
    code = main(["submit", *arguments, "--metrics", "faithfulness", "--endpoint", api.endpoint])

    # THEN the body holds the definitions, and asks for them besides faithfulness
    assert code == 0
    [body] = submissions(api)
    assert body["custom_metrics"] == load_metric_file(CRITERIA)
    assert body["metrics"] == ["faithfulness", *EXAMPLES]
    assert "plus the 3 metrics of criteria.yaml" in capsys.readouterr().err


def test_submit_of_invalid_definitions_sends_nothing(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "criteria.yaml", INVALID_YAML)
    arguments = ["--file", str(BUNDLED_SAMPLES), "--metric-file", str(path), "--upload"]
    assert main(["submit", *arguments, "--endpoint", api.endpoint]) == 2
    assert api.seen == []
    assert capsys.readouterr().err.startswith("error: custom_metrics[0].instructions: ")


# --- scored ------------------------------------------------------------------------------------


def test_the_bundled_examples_score_the_bundled_samples_through_the_judge(
    judge_env: ScriptedJudge, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the scripted judge (its answers to a job's own metric only exercise the path)
    # WHEN the bundled samples are scored with the bundled examples
    arguments = ["--file", str(BUNDLED_SAMPLES), "--metric-file", str(CRITERIA)]
    code = main(["score", *arguments, "--metrics", "exact_match", "--json", "--out", str(tmp_path)])

    # THEN each example has a mean among its values' numbers, and metadata.json keeps its
    # definition
    job = json.loads(capsys.readouterr().out)
    assert code == 0, job
    assert list(job["scores"]) == ["exact_match", *EXAMPLES]
    for name in EXAMPLES:
        assert job["scores"][name] is not None and 0 <= job["scores"][name] <= 1, name
    folder = tmp_path / "score-async" / job["run_id"]
    metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    assert "cites_its_contexts" in json.dumps(metadata)


def test_the_readme_shows_the_bundled_examples_as_they_are() -> None:
    # GIVEN the README's YAML block of metrics of your own, and the bundled file
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"^```yaml\n(custom_metrics:\n.*?)^```$", readme, re.M | re.S)
    bundled = CRITERIA.read_text(encoding="utf-8")

    # THEN the block is the file without its header comment
    assert shown is not None
    assert shown[1] == bundled[bundled.index("custom_metrics:") :]
