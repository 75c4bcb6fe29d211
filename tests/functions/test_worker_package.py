"""The worker as it would be deployed: scripts/worker_check.py (make worker-check).

It lays out the image's task root from functions/worker/Dockerfile without Docker, then
runs the handler from that folder alone in a fresh process on a job of every metric.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from rag_eval.metrics import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "worker_check.py"


def _worker_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("worker_check", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_check_reproduces_the_dockerfile_install_and_context() -> None:
    check = _worker_check()
    target = Path("/task-root")

    command = check.dockerfile_pip_install(target)

    # Wheels for Lambda's platform (glibc 2.34 covers numpy's manylinux_2_28 wheels), exact
    # pins without resolving, into the task root; rouge_score alone from its sdist.
    assert command[0] == "install"
    assert {"--no-deps", "--only-binary=:all:", "--no-binary=rouge_score"} <= set(command)
    platforms = {command[i + 1] for i, word in enumerate(command) if word == "--platform"}
    assert {"manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64"} <= platforms
    assert command[command.index("--requirement") + 1] == str(ROOT / "requirements/worker.txt")
    assert command[command.index("--target") + 1] == str(target)
    assert check.code_entries() == ["rag_eval", "app.py"]
    rules = check.dockerignore_rules()
    assert not check.ignored("rag_eval/scoring/scorer.py", rules)
    assert not check.ignored("functions/worker/app.py", rules)
    assert check.ignored("rag_eval/local/template.py", rules)
    assert check.ignored("rag_eval/judges/__pycache__/x.cpython-312.pyc", rules)
    assert check.ignored("functions/api/app.py", rules)


@pytest.mark.slow
def test_the_deployable_worker_scores_every_metric_from_its_own_folder() -> None:
    # The first run downloads the wheels (minutes); later runs reuse them (seconds).
    done = subprocess.run(
        [sys.executable, str(SCRIPT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    for line in (
        "deployed size: ",
        "largest distributions:",
        "limits: container image 10 GB",
        'handler returned: {"batchItemFailures": []}',
        "in DynamoDB: completed",
        f"all {len(REGISTRY)} metrics scored",
        ": 7 files (explanations.jsonl, metadata.json, optimization_advice.md, report.html, "
        "request.json, scores.csv, summary.md)",
        "every one from the task root or the standard library",
        "time to first score: ",
    ):
        assert line in output, f"{line!r} missing from:\n{output[-6000:]}"
    assert done.stdout.rstrip().endswith("worker-check OK")
