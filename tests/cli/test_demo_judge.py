"""`make demo-judge`: the demo with every LLM metric on this machine, the scripted judge
standing in for a model, and saying so."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LLM_METRICS = ("faithfulness", "answer_relevancy", "context_precision", "context_recall")


def test_the_demo_with_the_scripted_judge_scores_the_llm_metrics(tmp_path: Path) -> None:
    # GIVEN a shell with no judge configured
    env = {
        name: value
        for name, value in os.environ.items()
        if not re.match(r"^(OPENAI_|RAGAS_|AWS_|RAG_EVAL_)", name)
    } | {"RAGAS_DO_NOT_TRACK": "true"}

    # WHEN the demo is run with the scripted judge, as `make demo-judge` runs it
    done = subprocess.run(
        [sys.executable, "-m", "testkit.demo_judge", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    # THEN it says plainly that the judge is a deterministic stand-in, not a model
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "It is a deterministic stand-in for a model, not a model" in out
    assert "word overlap" in out
    assert re.search(r"judge: http://127\.0\.0\.1:\d+/judge-\w+/v1", out)
    # AND every LLM metric is scored, with the model-free ones, on every sample
    assert re.search(r"job \w+: completed\n", out)
    for metric in LLM_METRICS:
        assert re.search(rf"^  {metric} +[01]\.\d{{4}}$", out, re.M), metric
    assert re.search(r"^  chrf_score +0\.\d{4}$", out, re.M)
    assert re.search(r"^  sample +faithfuln +answer_re +context_p +context_r ", out, re.M)
    samples, agents = out.split("[5/6]")
    assert "  –" not in samples  # no sample x metric left unscored
    # AND the agent's conversations are scored as a second job: tool calls, goal, topics
    assert len(re.findall(r"job \w+: completed\n", out)) == 2
    for metric in ("tool_call_accuracy", "tool_call_f1", "agent_goal_accuracy", "topic_adherence"):
        assert re.search(rf"^  {metric} +[01]\.\d{{4}}\b", agents, re.M), metric
    assert re.search(r"^  zh-wrong-tool +0\.0000 ", agents, re.M)
    # AND the full report is kept, its evidence and advice from the judge's verdicts
    [folder] = (tmp_path / "score-async").iterdir()
    assert f"Open {folder / 'report.html'} in a browser" in out
    assert "## Narrative" in (folder / "optimization_advice.md").read_text(encoding="utf-8")
    assert out.rstrip().endswith("a deterministic stand-in, not a model.")
    # AND the console has no JSON: the handlers' lines are in the file the demo names
    assert [line for line in (out + done.stderr).splitlines() if line.startswith("{")] == []
