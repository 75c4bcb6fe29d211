"""Every option rag-eval tells a person to use is one the command in use takes: the flags
named in the CLI's and the client's strings and in the README's `rag-eval ...` lines,
checked against the real parser, and the service's advice shown in the CLI's flags."""

from __future__ import annotations

import argparse
import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rag_eval.adapters.local_files import LocalObjectStore
from rag_eval.app.planning import Planner
from rag_eval.cli.main import build_parser, main
from rag_eval.cli.render import in_flags
from rag_eval.domain.job import new_job
from rag_eval.domain.layout import upload_key
from rag_eval.domain.request import DatasetJob, DatasetRef, ScoreRequest
from rag_eval.domain.sample import Sample
from rag_eval.domain.settings import Settings
from tests.client.test_client import ScriptedApi, job

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SOURCES = sorted([*ROOT.glob("rag_eval/cli/*.py"), *ROOT.glob("rag_eval/client/*.py")])
# The code whose messages rag-eval shows: the API's answers and a job's error come from it.
# The route table is not among them: its words (JSON examples, summaries) are the API's, for
# its OpenAPI document.
SERVICE = sorted(
    path
    for part in ("app", "domain", "judges")
    for path in ROOT.glob(f"rag_eval/{part}/*.py")
    if path != ROOT / "rag_eval" / "app" / "routes.py"
)
# Service code whose messages only one command group shows, by that group's module: the
# gate's rules (`rag-eval gate`) name the gate's flags, not submit's.
SHOWN_BY = {"rag_eval/domain/ci_gate.py": "rag_eval.cli.report"}
UPLOAD_ID = "5f3a9c0e1b2d4f6a8c0e1b2d"

FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
# A command line starts at rag-eval (however it is called) or at another tool, whose flags
# are its own; it ends with its code span or line, a comment, or a clause of prose.
COMMAND = re.compile(r"(?<![\w-])(?:[\w.-]*/)?(rag-eval|aws|sam|python[\d.]*)(?![\w-])")
COMMAND_END = re.compile(r"`|\n| #|;|&&|, ")
FENCED = re.compile(r"^```[^\n]*\n(.*?)^```$", re.M | re.S)
CODE_SPAN = re.compile(r"`((?:[^`\n]|\n(?!\n))+)`")  # within a paragraph
# How the sources write a command's name into an f-string: rag-eval's own, the AWS CLI's.
COMMAND_NAMES = {
    **dict.fromkeys(("own_command()", "command", "rag_eval"), "rag-eval"),
    **dict.fromkeys(("aws_command()", "aws"), "aws"),
}


@dataclass(frozen=True)
class Command:
    options: frozenset[str]
    module: str  # its handler's


def walk(parser: argparse.ArgumentParser, typed: str = "") -> Iterator[tuple[str, Command]]:
    """Each command as typed (`score`, `local start`), from the parser rag-eval runs."""
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in subcommands:
        for name, child in action.choices.items():
            yield from walk(child, f"{typed} {name}".strip())
    if not subcommands:
        options = frozenset(o for action in parser._actions for o in action.option_strings)
        yield typed, Command(options, parser.get_default("handler").__module__)


COMMANDS = dict(walk(build_parser()))


def typed_command(words: str) -> str | None:
    """The command these words after `rag-eval` call, if any."""
    said = words.split()
    known = [typed for typed in COMMANDS if said[: len(typed.split())] == typed.split()]
    return max(known, key=len, default=None)


def named_flags(text: str) -> Iterator[tuple[str | None, str]]:
    """(the rag-eval command the flag is given to, else None; the flag) for each flag the
    text names outside another tool's command line."""
    at = 0
    for start in COMMAND.finditer(text):
        yield from ((None, flag) for flag in FLAG.findall(text, at, start.start()))
        end = COMMAND_END.search(text, start.end())
        at = end.start() if end else len(text)
        following = COMMAND.search(text, start.end(), at)
        at = following.start() if following else at
        if start[1] == "rag-eval":
            words = text[start.end() : at]
            yield from ((typed_command(words), flag) for flag in FLAG.findall(words))
    yield from ((None, flag) for flag in FLAG.findall(text, at))


def wrong_flags(text: str, module: str | None = None) -> list[str]:
    """What is wrong with the flags the text names: each given to a command must be one of
    its options; any other one of a command of `module` (of any command, for shared code)."""
    owned = [c for c in COMMANDS.values() if c.module == module] or list(COMMANDS.values())
    wrong = []
    for typed, flag in named_flags(text):
        if typed is not None and flag not in COMMANDS[typed].options:
            wrong.append(f"{flag} is no option of `rag-eval {typed}`")
        elif typed is None and not any(flag in command.options for command in owned):
            wrong.append(f"{flag} is no option of {module or 'any command'}")
    return wrong


def printed_strings(path: Path) -> Iterator[tuple[int, str]]:
    """Each string literal of a module (but its docstrings) with its line; an f-string with
    the command names the code puts in it, and X for any other value."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    documented = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, documented) and ast.get_docstring(node, clean=False) is not None
    }
    parts = {
        id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value
                if isinstance(v, ast.Constant)
                else COMMAND_NAMES.get(ast.unparse(v.value), "X")
                for v in node.values
            )
            yield node.lineno, text
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in parts | docstrings
        ):
            yield node.lineno, node.value


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def readme_code() -> Iterator[tuple[int, str]]:
    """What the README shows as code, with its line: each command of its code blocks (shell
    continuations and a usage's indented lines joined) and each code span of its prose."""
    text = README.read_text(encoding="utf-8")
    for block in FENCED.finditer(text):
        first = text.count("\n", 0, block.start()) + 1
        joined = re.sub(r"\n {8,}", " ", re.sub(r"\\\n\s*", " ", block[1]))
        yield from ((first, line) for line in joined.splitlines())
    # The prose alone, its line numbers kept.
    prose = FENCED.sub(lambda block: "\n" * block[0].count("\n"), text)
    for span in CODE_SPAN.finditer(prose):
        yield prose.count("\n", 0, span.start()) + 1, " ".join(span[1].split())


# --- the flags the sources and the README name ------------------------------------------------


def test_every_flag_named_in_the_cli_and_client_sources_is_an_option_of_its_command() -> None:
    # GIVEN every string the CLI and the API client can print (help, errors, hints, banners)
    # WHEN the flags each names are looked up in the parser rag-eval runs
    wrong = [
        f"{path.relative_to(ROOT)}:{line}: {problem}"
        for path in SOURCES
        for line, text in printed_strings(path)
        for problem in wrong_flags(text, module_of(path))
    ]

    # THEN each is an option of the command it is given to (or, named on its own, of a
    # command of that module's)
    assert wrong == []


def test_the_services_messages_as_rag_eval_shows_them_name_submits_flags_not_api_fields() -> None:
    # GIVEN every string of the code whose messages reach rag-eval: the API's refusals, a
    # job's error, the checks `score` shares with the service
    # AND the request's options a person sets with a flag, by their API names (snake_case;
    # a sample's fields are a file's columns too, so they stay as they are)
    fields = {*ScoreRequest.model_fields, *DatasetJob.model_fields, *DatasetRef.model_fields}
    api_names = {
        name
        for name in fields - set(Sample.model_fields)
        if "_" in name and f"--{name.replace('_', '-')}" in COMMANDS["submit"].options
    }
    assert {"on_invalid", "column_map", "judge_model", "max_judge_calls"} <= api_names

    # WHEN each is shown as rag-eval shows it
    wrong = [
        f"{path.relative_to(ROOT)}:{line}: {problem}"
        for path in SERVICE
        for line, text in printed_strings(path)
        for problem in [
            *(f"says {name}" for name in api_names if re.search(rf"\b{name}\b", in_flags(text))),
            *wrong_flags(
                in_flags(text), SHOWN_BY.get(path.relative_to(ROOT).as_posix(), "rag_eval.cli.jobs")
            ),
        ]
    ]

    # THEN none names an option by its API name, and each flag it names is submit's (or,
    # for the gate's rules, the gate's)
    assert wrong == []


def test_every_flag_of_a_rag_eval_command_in_the_readme_is_an_option_of_that_command() -> None:
    # GIVEN the README's code: its command blocks and the code spans of its prose
    # WHEN the flags each rag-eval command line names are looked up in the parser
    wrong = [
        f"README.md:{line}: {problem} ({code})"
        for line, code in readme_code()
        for problem in wrong_flags(code)
    ]

    # THEN the command takes each of them
    assert wrong == []


def test_the_checks_see_a_flag_given_to_a_command_that_lacks_it() -> None:
    # GIVEN hints as the sources and the README write them
    # WHEN one names an option its command does not have
    # THEN it is found, as the command's; another tool's flags are left alone
    assert wrong_flags("try `rag-eval score --file x.csv --on-invalid skip`") == [
        "--on-invalid is no option of `rag-eval score`"
    ]
    assert wrong_flags(".venv/bin/rag-eval list --limit 5 && aws s3 ls --recursive") == []
    assert wrong_flags("--no-such-flag applies", "rag_eval.cli.jobs") == [
        "--no-such-flag is no option of rag_eval.cli.jobs"
    ]


# --- what a person sees -----------------------------------------------------------------------


def flags_of(text: str) -> set[str]:
    return set(FLAG.findall(text))


def test_score_of_a_file_without_a_question_column_names_the_flag_that_maps_one(
    no_judge_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a CSV whose question and answer columns have names of its own
    data = tmp_path / "data.csv"
    data.write_text("query,response,reference\nWhen?,In 1889.,In 1889.\n", encoding="utf-8")
    out_dir = tmp_path / "runs"

    # WHEN it is scored
    code = main(["score", "--file", str(data), "--metrics", "exact_match", "--out", str(out_dir)])

    # THEN the error says how to map the column, with a flag `score` takes
    err = capsys.readouterr().err
    assert code == 2
    assert "map yours with --column-map THEIRS=question" in err
    assert flags_of(err) <= COMMANDS["score"].options

    # AND doing as it says scores the file
    mapped = ["--column-map", "query=question", "--column-map", "response=answer"]
    code = main(
        ["score", "--file", str(data), "--metrics", "exact_match", *mapped, "--out", str(out_dir)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert ": completed" in out
    assert "exact_match  1.0000" in out


def test_a_column_map_naming_a_column_the_file_lacks_is_the_flags_mistake(
    no_judge_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a CSV and a column map with a misspelt column
    data = tmp_path / "data.csv"
    data.write_text("question,reply\nWhen?,In 1889.\n", encoding="utf-8")

    # WHEN it is scored
    code = main(["score", "--file", str(data), "--column-map", "replt=answer"])

    # THEN the error is about --column-map, with the file's columns
    assert code == 2
    assert capsys.readouterr().err == (
        f"error: --column-map: {data} names column(s) the file does not have: replt "
        "(allowed: question, reply)\n"
    )


def test_score_given_a_column_map_without_a_file_says_it_needs_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["score", "--question", "Q?", "--answer", "A.", "--column-map", "q=question"])
    assert code == 2
    assert capsys.readouterr().err == "error: --column-map: needs --file\n"


def test_an_llm_metric_without_a_judge_is_refused_naming_the_flags_that_choose_one(
    no_judge_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no judge configured WHEN an LLM metric is asked of `score`
    code = main(["score", "--question", "Q?", "--answer", "A.", "--metrics", "faithfulness"])

    # THEN the refusal names --judge-model / --embedding-model, options of score, not the
    # API's field names
    err = capsys.readouterr().err
    assert code == 2
    assert "name a 'bedrock:<model-id>' --judge-model / --embedding-model" in err
    assert "judge_model" not in err
    assert flags_of(err) <= COMMANDS["score"].options


@pytest.mark.integration  # a server of its own on loopback
def test_a_dataset_failed_by_an_invalid_row_shows_the_flag_that_skips_such_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an uploaded dataset with an invalid row, failed by planning as the worker does
    store = LocalObjectStore(tmp_path)
    rows = b'{"question": "Q?", "answer": "A."}\n{"answer": "no question"}\n'
    store.put(upload_key(UPLOAD_ID, "someone"), rows, "application/jsonl")
    request = DatasetJob(dataset=DatasetRef(upload_id=UPLOAD_ID), metrics=["exact_match"])
    failure = (
        Planner(Settings(), store)
        .plan(new_job(request, Settings(), owner="someone"), request)
        .failure
    )
    assert failure is not None and '"on_invalid": "skip"' in failure  # the API's own words

    with ScriptedApi() as api:
        api.script[("GET", "/v1/score-jobs/j1")] = [(200, job(status="failed", error=failure))]

        # WHEN a person looks at the job with rag-eval
        assert main(["status", "j1", "--endpoint", api.endpoint]) == 0
        out = capsys.readouterr().out

        # THEN the error says what to type: submit's --on-invalid skip
        assert "or submit with --on-invalid skip to score the valid rows" in out
        assert "on_invalid" not in out
        assert flags_of(out) <= COMMANDS["submit"].options

        # AND --json keeps the API's own words, for programs
        assert main(["status", "j1", "--json", "--endpoint", api.endpoint]) == 0
        assert json.loads(capsys.readouterr().out)["error"] == failure


def test_every_request_option_the_api_names_is_shown_as_a_flag_of_submit() -> None:
    # GIVEN a message naming every option of the API's request bodies
    names = {*ScoreRequest.model_fields, *DatasetJob.model_fields, *DatasetRef.model_fields}
    message = " ".join(sorted(names)) + ' with "on_invalid": "skip" or dataset.column_map'

    # WHEN the CLI shows it
    shown = in_flags(message)

    # THEN each option it names as a flag is one of submit's
    assert {"--on-invalid", "--column-map", "--judge-model", "--max-judge-calls"} <= flags_of(shown)
    assert flags_of(shown) <= COMMANDS["submit"].options
    assert "--on-invalid skip" in shown
