"""What labels do to a lenient judge's score, end to end on this machine: the bundled
samples scored on faithfulness by a deliberately lenient judge through the local stack,
labelled on the review page (`rag-eval review`, in headless Chromium) with the values a
careful judge gives them, and the job's corrected figures printed.

    .venv/bin/python scripts/lenient_judge_review.py

The lenient judge and the careful "person" are both the scripted judge (testkit): the
lenient one calls a claim supported when a tenth of its words are in the contexts, the
careful one when 60% are. Every label goes through the page, as a person would give it:
the value typed into the field, then Enter.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag_eval.client import ScoreJobsClient  # noqa: E402
from rag_eval.domain.request import parse_request  # noqa: E402
from rag_eval.domain.settings import Settings  # noqa: E402
from rag_eval.scoring.scorer import Scorer  # noqa: E402
from testkit.scripted_judge import ScriptedJudge  # noqa: E402
from tests.support.browser import chromium  # noqa: E402
from tests.support.stacks import judged_stack  # noqa: E402

METRIC = "faithfulness"
LENIENT, CAREFUL = "lenient-judge", "careful-person"
SAMPLES = [
    json.loads(line)
    for line in (ROOT / "rag_eval/sample_data/samples.jsonl").read_text("utf-8").splitlines()
]


def careful_values(judge: ScriptedJudge) -> dict[str, float]:
    """What the careful judge scores each sample: the values the 'person' gives."""
    settings = Settings(openai_base_url=judge.base_url, openai_api_key="demo")
    body = {"samples": SAMPLES, "metrics": [METRIC], "judge_model": CAREFUL}
    run = Scorer(settings).score(parse_request(body))
    return {r.sample_id: float(r.scores[METRIC] or 0.0) for r in run.results}


def labelled(client: ScoreJobsClient, job_id: str) -> set[str]:
    return {label.sample_id for label in client.iter_labels(job_id)}


def main() -> None:
    with ScriptedJudge(model_thresholds={LENIENT: 0.1}) as judge:
        people = careful_values(judge)
        with judged_stack(judge) as stack:
            client = ScoreJobsClient(stack.endpoint)
            body = {"samples": SAMPLES, "metrics": [METRIC], "judge_model": LENIENT}
            job_id = client.submit(body).job_id
            job = client.wait(job_id, timeout=180)
            print(f"job {job_id}: the lenient judge's {METRIC} {job.scores[METRIC]}")
            review = subprocess.Popen(
                [str(ROOT / ".venv/bin/rag-eval"), "review", job_id, "--no-browser"],
                env={**os.environ, **stack.client_environment()},
                stdout=subprocess.PIPE,
                text=True,
            )
            assert review.stdout is not None
            url = next(
                line.removeprefix("review it at ").strip()
                for line in review.stdout
                if line.startswith("review it at ")
            )
            with chromium() as browser:
                page = browser.new_page()
                page.goto(url)
                while True:
                    page.wait_for_selector("#sample:not([hidden]), #empty:not([hidden])")
                    if page.locator("#empty").is_visible():
                        print("  the page:", page.locator("#empty").inner_text())
                        break  # every sample the judge scored is labelled
                    sample_id = page.locator("#sample-id").inner_text()
                    value = people[sample_id]
                    page.fill("#value", f"{value:.3f}")
                    page.press("#value", "Enter")
                    page.wait_for_function(
                        "id => !document.querySelector('#empty').hidden ||"
                        " document.querySelector('#sample-id').innerText !== id",
                        arg=sample_id,
                        timeout=30_000,
                    )
                    print(f"  labelled {sample_id}: {value:.3f} on the page")
            review.send_signal(signal.SIGINT)
            review.communicate(timeout=30)
            given = labelled(client, job_id)
            deadline = time.monotonic() + 120
            # The worker sets labels against the judge as they arrive: wait for all of them.
            while True:
                trust = client.get_job(job_id).corrected.get(METRIC)
                if trust is not None and trust.labelled_samples == len(given):
                    break
                assert time.monotonic() < deadline, f"the job's figures: {trust}"
                time.sleep(1)
            mean = sum(people[s] for s in given) / len(given)
            print(f"people's mean over the {len(given)} samples the judge scored: {mean:.3f}")
            print(json.dumps(trust.model_dump(mode="json"), indent=2))
            print(trust.sentence)


if __name__ == "__main__":
    main()
