"""The README's commands, run as written: every ```sh block, in order, from the repository's
root, against the local stack and the scripted judge.

`BLOCKS` is the checked list: for each block (by its first line), the judge settings of the
shell it runs in and whether the local stack must be up; a block the README gains or loses
fails the test until the list says how to run it. `<bucket>` and `<job_id>` are filled in
from what the stack and `submit` printed, as a reader would; a command that cannot run here
says why in `NOT_RUN`.

And its shape on GitHub: code blocks that end where they seem to, and a contents list of
its sections.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.scripted_judge import ScriptedJudge

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# The example of "Metrics of your own", whose output the README shows as well.
CUSTOM_METRICS_EXAMPLE = (
    ".venv/bin/rag-eval score --file rag_eval/sample_data/samples.jsonl "
    "--metric-file rag_eval/sample_data/criteria.yaml"
)
NOT_RUN = {
    "make test": "it is what runs this test",
    "sam build && sam deploy --guided": "needs Docker (or Finch) and an AWS account",
}
# First line of each block -> (judge: "none" | "scripted" | "openai-as-scripted", stack up?)
BLOCKS = {
    "make demo   # the service on this machine": ("none", False),
    "OPENAI_BASE_URL=https://api.openai.com/v1 OPENAI_API_KEY=sk-... make demo": (
        "openai-as-scripted",
        False,
    ),
    ".venv/bin/rag-eval score \\": ("none", False),
    ".venv/bin/rag-eval score --file rag_eval/sample_data/samples.jsonl \\": ("scripted", False),
    ".venv/bin/rag-eval local start": ("scripted", False),
    "export RAG_EVAL_ENDPOINT=http://127.0.0.1:3000/v1 AWS_ENDPOINT_URL=http://127.0.0.1:3001 \\": (
        "none",
        True,
    ),
    ".venv/bin/rag-eval submit --file rag_eval/sample_data/samples.jsonl --metrics chrf_score": (
        "none",
        True,
    ),
    ".venv/bin/rag-eval invoke ApiFunction -e events/api-submit.json": ("none", True),
    ".venv/bin/rag-eval score --file rag_eval/sample_data/samples.jsonl --metrics faithfulness": (
        "scripted",
        False,
    ),
    CUSTOM_METRICS_EXAMPLE: ("scripted", False),
    ".venv/bin/python -m bench.datasets --rows 2000 --scheme ragas": ("none", True),
    "sam build && sam deploy --guided": ("none", False),
}
LOCAL_ENV = (
    "RAG_EVAL_ENDPOINT=http://127.0.0.1:3000/v1 AWS_ENDPOINT_URL=http://127.0.0.1:3001 "
    "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1"
)


def sh_blocks() -> list[tuple[str, list[str]]]:
    """Each ```sh block: its first line as written, and its commands (continuations joined)."""
    blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
    found = []
    for block in blocks:
        joined = re.sub(r"\\\n\s*", " ", block)
        commands = [line for line in joined.splitlines() if line.strip()]
        first = block.splitlines()[0]
        found.append((next((k for k in BLOCKS if first.startswith(k)), first), commands))
    return found


def clean_env(state_dir: Path) -> dict[str, str]:
    """A reader's shell: none of the service's, the judge's or AWS's settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not re.match(r"^(OPENAI_|RAGAS_|RAG_EVAL_|AWS_)", name)
    }
    # The local stack keeps its state in a folder of the test's, not in the checkout's runs/.
    return env | {"RAGAS_DO_NOT_TRACK": "true", "RAG_EVAL_STATE_DIR": str(state_dir)}


@pytest.fixture(scope="module")
def judge() -> Iterator[ScriptedJudge]:
    with ScriptedJudge() as running:
        yield running


def run(command: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_every_readme_command_runs_as_written(judge: ScriptedJudge, tmp_path: Path) -> None:
    blocks = sh_blocks()
    # The checked list covers every block, and only those.
    assert sorted(first for first, _ in blocks) == sorted(BLOCKS)
    judge_env = {"OPENAI_BASE_URL": judge.base_url, "OPENAI_API_KEY": "test"}
    seen = {"bucket": None, "job_id": None}
    stack = None
    printed: list[str] = []
    try:
        for first, block in blocks:
            kind, needs_stack = BLOCKS[first]
            env = clean_env(tmp_path / "local-stack") | (judge_env if kind == "scripted" else {})
            if needs_stack:
                assert stack is not None, "the README uses the local stack before starting it"
                # The shell the README exported the local stack's settings in.
                env |= dict(pair.split("=", 1) for pair in LOCAL_ENV.split())
            for command in block:
                if any(command.startswith(skipped) for skipped in NOT_RUN):
                    printed.append(f"$ {command}\n(not run: {NOT_RUN[command.split('  ')[0]]})")
                    continue
                if command.startswith(".venv/bin/rag-eval local start"):
                    stack, seen["bucket"] = start_stack(command, env)
                    printed.append(f"$ {command}\n(the local stack is up: {seen['bucket']})")
                    continue
                as_run = command.replace("<bucket>", seen["bucket"] or "<bucket>")
                as_run = as_run.replace("<job_id>", seen["job_id"] or "<job_id>")
                if kind == "openai-as-scripted":
                    # The same command, the judge on loopback instead of OpenAI's.
                    as_run = as_run.replace("https://api.openai.com/v1", judge.base_url)
                    as_run = as_run.replace("sk-...", "test")
                if command.startswith("export "):
                    assert command.split(" ", 1)[1].split() == LOCAL_ENV.split()
                    continue
                assert "<" not in as_run.split("#")[0], f"unfilled placeholder in {command!r}"
                done = run(as_run, env)
                printed.append(f"$ {command}\n{done.stdout}{done.stderr}")
                assert done.returncode == 0, printed[-1]
                assert "Traceback" not in done.stderr, printed[-1]
                if match := re.search(r"^job (\w{24}): ", done.stdout, re.M):
                    seen["job_id"] = match.group(1)
    finally:
        if stack is not None:
            stack.send_signal(signal.SIGINT)
            stack.wait(timeout=60)
        (tmp_path / "readme-run.txt").write_text("\n".join(printed), encoding="utf-8")


def start_stack(command: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """`rag-eval local start` in the background, as a second shell would run it."""
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command.split('#')[0]}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Ctrl-C stops it"):
            bucket = next(x.split()[1] for x in lines if x.strip().startswith("bucket"))
            # Keep reading its log so that the pipe never fills.
            threading_drain(process)
            return process, bucket
    process.kill()
    raise AssertionError("the local stack did not come up:\n" + "".join(lines))


def threading_drain(process: subprocess.Popen) -> None:
    import threading

    threading.Thread(target=process.stdout.read, daemon=True).start()


def shown_output(first: str) -> tuple[str, list[str]]:
    """The README's command block that starts with `first` (continuations joined) and the
    lines of the ```text block right after it: what the README says it prints."""
    text = README.read_text(encoding="utf-8")
    found = re.search(
        rf"^```sh\n({re.escape(first)}.*?)^```\n\n```text\n(.*?)^```$", text, re.M | re.S
    )
    assert found, f"no command block starting {first!r} followed by its output"
    return re.sub(r"\\\n\s*", " ", found[1]).strip(), found[2].splitlines()


def as_compared(lines: list[str]) -> list[str]:
    """Lines with what differs from run to run (the job id, the run folder's name) made
    the README's placeholders."""
    lines = [re.sub(r"^job \w{24}: ", "job <job_id>: ", line) for line in lines]
    return [re.sub(r"score-async/[^/\s]+", "score-async/<run_id>", line) for line in lines]


def test_the_custom_metrics_example_prints_what_the_readme_shows(
    judge: ScriptedJudge, tmp_path: Path
) -> None:
    # GIVEN the README's example of metrics of your own, and the output it shows
    command, shown = shown_output(CUSTOM_METRICS_EXAMPLE)

    # WHEN it runs as written, with the scripted judge and a verdict cache of its own (a
    # first run: nothing cached)
    env = clean_env(tmp_path / "local-stack") | {
        "OPENAI_BASE_URL": judge.base_url,
        "OPENAI_API_KEY": "test",
        "RAG_EVAL_CACHE_DIR": str(tmp_path / "verdict-cache"),
    }
    done = run(command, env)

    # THEN it prints what the README shows: the metrics chosen (stderr), then the job
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    printed = [line for line in (done.stderr + done.stdout).splitlines() if line]
    assert as_compared(printed) == as_compared(shown)


# --- how GitHub shows it ----------------------------------------------------------------------

# A code fence, as CommonMark reads one: up to 3 spaces, then 3 or more backticks or tildes.
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def fence_problems(text: str) -> list[str]:
    """Where a code block does not end where it seems to. A block ends only at a fence of
    its own character, at least as long, with nothing after it: `` ``` text`` inside it is
    one more line of code, and the block runs on over the prose below."""
    problems: list[str] = []
    opened: tuple[str, int] | None = None  # the open block's fence and line
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if match is None:
            continue
        fence, rest = match.groups()
        if opened is None:
            if fence[0] == "`" and "`" in rest:  # an info string holds no backtick
                problems.append(f"line {number}: {line!r} opens no block (a ` after the fence)")
            else:
                opened = (fence, number)
        elif fence[0] == opened[0][0] and len(fence) >= len(opened[0]):
            if rest.strip():
                problems.append(
                    f"line {number}: {line!r} does not close the block of line {opened[1]} "
                    "(text after the fence)"
                )
            else:
                opened = None
    if opened is not None:
        problems.append(f"line {opened[1]}: this block is never closed")
    return problems


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_every_code_block_of_the_readme_ends_where_it_seems_to() -> None:
    # GIVEN the README WHEN its fences are read as GitHub (CommonMark) reads them
    # THEN every block closes on a fence line of its own: no section is swallowed as code
    assert fence_problems(README.read_text(encoding="utf-8")) == []


def test_a_closing_fence_with_text_after_it_is_found() -> None:
    # GIVEN a block "closed" by a fence with the next paragraph's first words after it
    text = "```text\noutput\n``` Each command takes `--endpoint URL`\n\n## Running one\n"

    # THEN the check says which line keeps the block open, and that it never closes
    assert fence_problems(text) == [
        "line 3: '``` Each command takes `--endpoint URL`' does not close the block of line 1 "
        "(text after the fence)",
        "line 1: this block is never closed",
    ]


def test_the_readme_contents_link_every_section_in_order() -> None:
    # GIVEN the README's sections (its ## headings outside code blocks)
    text = README.read_text(encoding="utf-8")
    prose = re.sub(r"^```.*?^```$", "", text, flags=re.M | re.S)
    sections = re.findall(r"^## (.+)$", prose, re.M)

    # WHEN the contents list before the first of them is read
    contents = re.findall(r"^- \[(.+)\]\(#(.+)\)$", text.split("\n## ", 1)[0], re.M)

    # THEN it links each section, in order, by the anchor GitHub gives it
    assert contents == [(heading, github_anchor(heading)) for heading in sections]
