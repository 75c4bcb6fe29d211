"""The README's picture of report.html: the bundled samples scored with the scripted judge,
their report opened in headless Chromium, the top of the page saved as a PNG.

    .venv/bin/python scripts/report_screenshot.py docs/report.png

Chinese text needs a CJK font on the machine (Debian: fonts-noto-cjk).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from page_shot import page_shot  # noqa: E402  (beside this script)

from rag_eval.adapters.local_files import LocalObjectStore  # noqa: E402
from rag_eval.app.pipeline import ScoringPipeline  # noqa: E402
from rag_eval.domain.job import new_job  # noqa: E402
from rag_eval.domain.request import parse_request  # noqa: E402
from rag_eval.domain.settings import Settings  # noqa: E402
from testkit.scripted_judge import ScriptedJudge  # noqa: E402

METRICS = ["faithfulness", "answer_relevancy", "context_precision", "context_recall"]


def main(target: Path) -> None:
    lines = (ROOT / "rag_eval/sample_data/samples.jsonl").read_text("utf-8").splitlines()
    samples = [json.loads(line) for line in lines]
    with tempfile.TemporaryDirectory() as folder, ScriptedJudge() as judge:
        settings = Settings(openai_base_url=judge.base_url, openai_api_key="demo")
        request = parse_request({"samples": samples, "metrics": METRICS})
        pipeline = ScoringPipeline(settings, LocalObjectStore(Path(folder)))
        job = asyncio.run(pipeline.arun(new_job(request, settings), request))
        report = Path(folder) / job.artifact_keys["report.html"]
        page_shot(report, target)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/report.png"))
