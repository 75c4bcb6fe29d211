"""The local stack with the scripted judge as its OpenAI-compatible endpoint, started from
a clean environment (no judge, cache or budget setting of the shell leaks in)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rag_eval.local.stack import LocalStack
from testkit.scripted_judge import ScriptedJudge


@contextmanager
def judged_stack(
    judge: ScriptedJudge, settings: dict[str, str] | None = None, **options: Any
) -> Iterator[LocalStack]:
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if re.match(r"^(OPENAI_|RAGAS_|RAG_EVAL_)", name) and name != "RAGAS_DO_NOT_TRACK":
                patch.delenv(name)
        environment = {
            "OPENAI_BASE_URL": judge.base_url,
            "OPENAI_API_KEY": "test",
            "RAGAS_MAX_RETRIES": "1",
            **(settings or {}),
        }
        with LocalStack(port=0, environment=environment, **options) as running:
            yield running


def stack_cli(stack: LocalStack, *arguments: str, out: Path) -> subprocess.CompletedProcess[str]:
    """`rag-eval ARGUMENTS --out OUT` as a user runs it against the stack."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "rag-eval"), *arguments, "--out", str(out)],
        env={**os.environ, **stack.client_environment()},
        capture_output=True,
        text=True,
        timeout=120,
    )
