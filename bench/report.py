"""report.html at size: how large it is, how long it takes to write, and to open.

    python -m bench.report --samples 1000 100000

The bundled samples are scored once against the scripted judge (all judge metrics, so
every kind of evidence is there); their results are repeated, under new ids, up to each
size. The page is then written and opened from disk in headless Chromium.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, samples, table
from rag_eval.advice.diagnosis import diagnose
from rag_eval.domain.request import ScoreRequest, parse_inline_request
from rag_eval.domain.results import ScoreRun
from rag_eval.domain.settings import Settings
from rag_eval.report.html import render_report
from rag_eval.scoring.run_folder import RunRecord
from rag_eval.scoring.scorer import Scorer
from testkit.scripted_judge import ScriptedJudge

METRICS = ["faithfulness", "answer_relevancy", "context_precision", "context_recall", "chrf_score"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[1000, 100000])
    sizes = parser.parse_args().samples
    from playwright.sync_api import sync_playwright

    base = samples(6)
    with ScriptedJudge() as judge:
        settings = Settings(openai_base_url=judge.base_url, openai_api_key="bench")
        scored = Scorer(settings).score(parse_inline_request({"samples": base, "metrics": METRICS}))
    chromium = subprocess.run(
        [str(ROOT / "scripts" / "chromium")], capture_output=True, text=True, check=True
    ).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for size in sizes:
            results = [
                scored.results[i % 6].model_copy(update={"sample_id": f"s{i:06d}"})
                for i in range(size)
            ]
            request = ScoreRequest.model_construct(
                samples=[
                    parse_inline_request(base[i % 6] | {"sample_id": f"s{i:06d}"}).samples[0]
                    for i in range(size)
                ],
                metrics=METRICS,
                weights={},
            )
            run = ScoreRun(metrics=METRICS, results=results, skipped={})
            record = RunRecord("bench", "bench", "t0", "t1", "t2", 0, "judge", "embeddings")
            started = time.perf_counter()
            page_html = render_report(record, request, run, diagnose(run, request))
            written = time.perf_counter() - started
            path = Path(folder) / f"report-{size}.html"
            path.write_text(page_html, encoding="utf-8")
            page = browser.new_page()
            started = time.perf_counter()
            page.goto(path.as_uri(), wait_until="load")
            page.locator("#table tbody tr").first.wait_for()
            opened = time.perf_counter() - started
            shown = page.locator("#table tbody tr").count()
            page.close()
            rows.append(
                [
                    f"{size:,}",
                    f"{path.stat().st_size / 1024 / 1024:.2f}",
                    round(written, 2),
                    round(opened, 2),
                    f"{shown:,}",
                ]
            )
        browser.close()
    print(table(["samples", "report MB", "written s", "opened s", "rows shown"], rows))


if __name__ == "__main__":
    main()
