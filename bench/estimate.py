"""The dry run's estimate against what jobs then really spend, and the fit behind it.

    python -m bench.estimate          # error of the estimate: bundled samples, 200 varied ones
    python -m bench.estimate --fit    # each metric's JudgeLoad, fitted sample by sample

Both score against the scripted judge, whose token counts follow OpenAI's rule of thumb
(about 4 characters a token). The fit runs each judge-backed metric on one sample at a
time, on a fitting set (seed 1); the error is measured on other samples (seed 2).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random

import numpy as np

from bench.common import SAMPLES_FILE, table
from rag_eval.app.estimate import estimate_samples
from rag_eval.domain.estimate import text_tokens
from rag_eval.domain.request import ScoreRequest, parse_inline_request
from rag_eval.domain.settings import Settings
from rag_eval.judges.factory import default_gate
from rag_eval.metrics import REGISTRY
from rag_eval.scoring.scorer import Scorer
from testkit.scripted_judge import ScriptedJudge

BUNDLED = [json.loads(line) for line in SAMPLES_FILE.read_text(encoding="utf-8").splitlines()]
JUDGED = [name for name, spec in REGISTRY.items() if not spec.model_free]
ENGLISH = [
    "The Eiffel Tower was completed in 1889.",
    "It is a wrought-iron lattice tower in Paris.",
    "AWS Lambda runs code without servers to manage.",
    "A function can run for at most 900 seconds per invocation.",
    "Memory can be set between 128 MB and 10,240 MB.",
    "Plants release oxygen during photosynthesis.",
    "Chlorophyll gives leaves their green colour.",
    "The Great Wall is more than twenty thousand kilometres long.",
    "Amazon S3 stores objects in buckets, each object under a key.",
    "DynamoDB is a key-value and document database with single-digit millisecond latency.",
    "The queue keeps a message hidden for its visibility timeout after it is received.",
    "Nobody knows for certain, and the sources disagree on the details.",
]
CHINESE = [
    "长城是中国古代的军事防御工程。",
    "长城全长约两万一千多公里。",
    "故宫位于北京市中心。",
    "黄河是中国第二长的河流。",
]


def varied_samples(count: int, seed: int) -> list[dict]:
    """Samples of varied shape: 1 to 6 contexts, short and long answers, some Chinese,
    some without a reference."""
    chance = random.Random(seed)
    rows = []
    for index in range(count):
        pool = CHINESE if chance.random() < 0.2 else ENGLISH

        def text(low: int, high: int, pool: list[str] = pool) -> str:
            return " ".join(chance.choice(pool) for _ in range(chance.randint(low, high)))

        row = {
            "sample_id": f"varied-{seed}-{index:04d}",
            "question": chance.choice(pool).rstrip(".。") + "?",
            "answer": text(1, 5),
            "contexts": [text(1, 4) for _ in range(chance.randint(1, 6))],
        }
        if chance.random() < 0.85:
            row["ground_truth"] = text(1, 3)
        rows.append(row)
    return rows


def measured(judge: ScriptedJudge, samples: list[dict], metrics: list[str]) -> dict:
    """What scoring really spent: requests and tokens, by model."""
    settings = Settings(openai_base_url=judge.base_url, openai_api_key="test")
    gate = default_gate(settings)
    request = parse_inline_request({"samples": samples, "metrics": metrics})
    asyncio.run(Scorer(settings).ascore(request, gate=gate))
    return gate.usage.model_dump()


def fit() -> None:
    """Each judge-backed metric's JudgeLoad, by least squares over single-sample runs."""
    samples = BUNDLED + varied_samples(60, seed=1)
    settings = Settings()
    rows = []
    with ScriptedJudge() as judge:
        for name in JUDGED:
            spec = REGISTRY[name]
            points = []
            for raw in samples:
                sample = parse_inline_request({"samples": [raw], "metrics": [name]}).samples[0]
                if sample.missing_inputs(spec.inputs):
                    continue
                usage = measured(judge, [raw], [name])["by_model"]
                chat = usage.get(settings.judge_model, {})
                embedded = usage.get(settings.embedding_model, {})
                points.append(
                    (
                        len(sample.contexts or []),
                        text_tokens(spec, sample),
                        chat.get("requests", 0),
                        chat.get("input_tokens", 0),
                        chat.get("output_tokens", 0),
                        embedded.get("requests", 0),
                        embedded.get("input_tokens", 0),
                    )
                )
            data = np.array(points, dtype=float)
            contexts, texts, chats, tokens_in, tokens_out, embeds, embedded_in = data.T
            if spec.chain_per_context:
                (calls, per_context), *_ = np.linalg.lstsq(
                    np.c_[np.ones_like(contexts), contexts], chats, rcond=None
                )
            else:
                calls, per_context = chats.mean(), 0.0
            regressors = np.c_[chats, texts]
            (prompt, weight), *_ = np.linalg.lstsq(regressors, tokens_in, rcond=None)
            (output, output_weight), *_ = np.linalg.lstsq(regressors, tokens_out, rcond=None)
            embedding_weight = (embedded_in @ texts) / (texts @ texts) if embeds.any() else 0.0
            rows.append(
                [
                    name,
                    round(calls, 2),
                    round(per_context, 2),
                    round(embeds.mean(), 2),
                    round(embedding_weight, 2),
                    round(prompt, 1),
                    round(weight, 2),
                    round(output, 1),
                    round(output_weight, 2),
                ]
            )
    print(
        table(
            [
                "metric",
                "calls",
                "calls_per_context",
                "embedding_calls",
                "embedding_weight",
                "prompt_tokens",
                "text_weight",
                "output_tokens",
                "output_weight",
            ],
            rows,
        )
    )


def error() -> None:
    """The estimate against the spend, on the bundled samples and on 200 varied ones."""
    sets = {"bundled samples (6)": BUNDLED, "varied samples (200)": varied_samples(200, seed=2)}
    rows = []
    with ScriptedJudge() as judge:
        for label, samples in sets.items():
            for metrics in (
                ["faithfulness", "answer_relevancy", "context_precision", "context_recall"],
                JUDGED,
            ):
                request = ScoreRequest.model_validate({"samples": samples, "metrics": metrics})
                guess = estimate_samples(request, Settings(), request.samples).total
                spent = measured(judge, samples, metrics)
                tokens = spent["input_tokens"] + spent["output_tokens"]
                rows.append(
                    [
                        label,
                        "default 4" if len(metrics) == 4 else f"all {len(metrics)} judged",
                        f"{guess.judge_calls} / {spent['requests']}",
                        f"{guess.judge_calls / spent['requests'] - 1:+.1%}",
                        f"{guess.input_tokens + guess.output_tokens} / {tokens}",
                        f"{(guess.input_tokens + guess.output_tokens) / tokens - 1:+.1%}",
                    ]
                )
    print(
        table(["set", "metrics", "calls est. / real", "error", "tokens est. / real", "error"], rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--fit", action="store_true", help="print each metric's fitted load")
    (fit if parser.parse_args().fit else error)()


if __name__ == "__main__":
    main()
