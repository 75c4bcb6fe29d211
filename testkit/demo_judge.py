"""`make demo-judge`: `rag-eval demo` with the scripted judge standing in for a model.

Every LLM metric, the judge's evidence, the advice and report.html, on this machine with no
model and no network: the scripted judge (`scripted_judge.py`) answers ragas' questions
by word overlap. It lives in testkit, not in the installed package, hence its own entry
point here rather than a `rag-eval demo` option. The demo's options pass through:

    python -m testkit.demo_judge [--out DIR] [--timeout S] [--verbose]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rag_eval.cli.main import main as rag_eval
from rag_eval.domain.settings import Settings
from testkit.scripted_judge import ScriptedJudge

STAND_IN = """\
The judge of this demo is the scripted judge (testkit/scripted_judge.py) at
  {url}
It is a deterministic stand-in for a model, not a model: it answers ragas' questions by
word overlap between the answer, the contexts and the reference. The LLM metrics, their
evidence, the advice and the report below are the service's real output, but the scores
measure shared words, not what a model would judge, and the cost is what those tokens would
cost at {model}'s price (nothing is spent). For a model's scores:
  OPENAI_BASE_URL=https://api.openai.com/v1 OPENAI_API_KEY=sk-... make demo
"""


def main(argv: list[str]) -> int:
    with ScriptedJudge() as judge:
        # Whatever judge the shell names, this demo's is the scripted one.
        os.environ.update({"OPENAI_BASE_URL": judge.base_url, "OPENAI_API_KEY": "scripted"})
        print(STAND_IN.format(url=judge.base_url, model=Settings.from_env().judge_model))
        code = rag_eval(["demo", *argv])
    print("\nThe LLM scores above are the scripted judge's: a deterministic stand-in, not a model.")
    return code


if __name__ == "__main__":  # the worker processes import this module again: not for them
    # The commands the demo suggests next name this environment's rag-eval and aws, as
    # they do under `make demo`, not this module.
    sys.argv[0] = str(Path(sys.executable).with_name("rag-eval"))
    sys.exit(main(sys.argv[1:]))
