"""The dry run's estimate against what jobs then really spend, and the fit behind it.

    python -m bench.estimate          # error of the estimate: bundled samples, 200 varied
                                      # ones, 200 varied conversations
    python -m bench.estimate --fit    # each metric's JudgeLoad, fitted sample by sample

Both score against the scripted judge, whose token counts follow OpenAI's rule of thumb
(about 4 characters a token). The fit runs each judge-backed metric, and a job's own
metric of each kind, on one sample at a time, on a fitting set (seed 1); the error is
measured on other samples (seed 2).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from bench.common import SAMPLES_FILE, table
from rag_eval.app.estimate import estimate_samples
from rag_eval.domain.estimate import text_tokens
from rag_eval.domain.request import ScoreRequest, parse_inline_request
from rag_eval.domain.sample import RUBRIC_KEYS, Sample
from rag_eval.domain.settings import Settings
from rag_eval.judges.factory import default_gate
from rag_eval.metrics import DEFAULT_METRICS, REGISTRY
from rag_eval.scoring.scorer import Scorer
from testkit.scripted_judge import ScriptedJudge

BUNDLED = [json.loads(line) for line in SAMPLES_FILE.read_text(encoding="utf-8").splitlines()]
JUDGED = [name for name, spec in REGISTRY.items() if not spec.model_free and spec.turns == "single"]
# The judge-backed metrics of conversations, fitted and measured on conversations.
CONVERSATION_JUDGED = [
    name for name, spec in REGISTRY.items() if not spec.model_free and spec.turns == "multi"
]
# A job's own metric of each kind, as a team would write it.
CUSTOM_METRICS: list[dict[str, Any]] = [
    {
        "name": "uses_the_contexts",
        "kind": "discrete",
        "instructions": "Question: {question}\nAnswer: {answer}\nRetrieved contexts:\n"
        "{contexts}\n\nDoes the answer rest on the retrieved contexts? Answer 'yes' when "
        "every claim of the answer is found in a context, 'partly' when some are, 'no' "
        "when none are.",
        "values": {"yes": 1, "partly": 0.5, "no": 0},
    },
    {
        "name": "reference_coverage",
        "kind": "numeric",
        "instructions": "Reference answer: {ground_truth}\nAnswer: {answer}\n\nRate from 0 "
        "to 10 how much of the reference answer's facts the answer states: 10 when it "
        "states all of them, 0 when it states none.",
        "range": [0, 10],
    },
    {
        "name": "support_tone",
        "kind": "rubric",
        "instructions": "Score the {answer} to the {question} as a support engineer "
        "would: it must be correct, direct and usable as it stands.",
        "rubric": {
            "1": "Wrong, off the question, or refuses without a reason.",
            "2": "Partly right, but misleading on a point that matters.",
            "3": "Right, but vague or padded; the reader must work for the answer.",
            "4": "Right and direct, with a minor omission.",
            "5": "Right, direct and complete: it can be sent to the customer as it is.",
        },
    },
]
CUSTOM = [metric["name"] for metric in CUSTOM_METRICS]
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
# A sample's own rubric (instance_specific_rubrics): what each score means, then details.
RUBRIC_ENGLISH = [
    "The answer is wrong or does not address the question.",
    "The answer touches the question but its main fact is wrong.",
    "The answer is right in substance but misses a fact the question needs.",
    "The answer is right and complete, with a minor imprecision.",
    "The answer is right, complete and states the figure or date asked for.",
]
RUBRIC_CHINESE = [
    "回答错误或没有回答问题。",
    "回答涉及问题，但主要事实错误。",
    "回答基本正确，但缺少问题所需的一个事实。",
    "回答正确完整，有小的不准确之处。",
    "回答正确完整，并给出所问的数字或日期。",
]
RUBRIC_DETAILS = [
    "Units must be given where a quantity is asked for.",
    "A claim the sources do not support counts as wrong.",
    "Wording and length do not matter.",
    "An answer in another language than the question loses one point.",
]


def varied_samples(count: int, seed: int) -> list[dict]:
    """Samples of varied shape: 1 to 6 contexts, short and long answers, some Chinese,
    some without a reference; each with its own rubric, short or long."""
    chance = random.Random(seed)
    rubric_chance = random.Random(seed + 1_000)  # the other fields as drawn without rubrics
    rows = []
    for index in range(count):
        pool = CHINESE if chance.random() < 0.2 else ENGLISH

        def text(low: int, high: int, pool: list[str] = pool) -> str:
            return " ".join(chance.choice(pool) for _ in range(chance.randint(low, high)))

        row: dict[str, Any] = {
            "sample_id": f"varied-{seed}-{index:04d}",
            "question": chance.choice(pool).rstrip(".。") + "?",
            "answer": text(1, 5),
            "contexts": [text(1, 4) for _ in range(chance.randint(1, 6))],
        }
        if chance.random() < 0.85:
            row["ground_truth"] = text(1, 3)
        scores = RUBRIC_CHINESE if pool is CHINESE else RUBRIC_ENGLISH
        row["rubrics"] = {
            key: " ".join(
                [score, *rubric_chance.sample(RUBRIC_DETAILS, rubric_chance.randint(0, 3))]
            )
            for key, score in zip(RUBRIC_KEYS, scores, strict=True)
        }
        rows.append(row)
    return rows


# A conversation's turns: what the user asks, the tool the agent calls for it, what the
# tool returns, and the agent's reply; or a request the agent should decline.
ERRANDS = [
    (
        "What will the weather be in Paris tomorrow?",
        ("weather", {"city": "Paris", "day": "tomorrow"}),
        "Tomorrow in Paris: 18 degrees and sunny.",
        "Tomorrow Paris will be sunny, about 18 degrees.",
    ),
    (
        "Book a table for two at the Golden Dragon at 8pm.",
        ("restaurant_book", {"name": "Golden Dragon", "time": "20:00", "people": 2}),
        "Booked: Golden Dragon, 20:00, 2 people.",
        "Your table for two at the Golden Dragon is booked for 8pm.",
    ),
    (
        "How long may an AWS Lambda function run?",
        ("search_docs", {"query": "Lambda timeout"}),
        "A function can run for at most 900 seconds per invocation.",
        "At most 900 seconds, that is 15 minutes, per invocation.",
    ),
    (
        "长城有多长？",
        ("search_docs", {"query": "长城 长度"}),
        "长城全长约两万一千多公里。",
        "长城全长约两万一千多公里。",
    ),
]
DECLINED = [
    ("Who will win the football final?", "Sorry, I can't help with sports predictions."),
    ("写一首关于大海的诗。", "抱歉，我只能回答天气、订餐和文档的问题。"),
]
TOPICS = ["weather", "restaurant booking", "AWS documentation", "长城"]


def varied_conversations(count: int, seed: int) -> list[dict]:
    """Conversations of one to four errands (some declined), each with the tool calls
    expected, the outcome expected, the topics allowed and a rubric."""
    chance = random.Random(seed)
    rows = []
    for index in range(count):
        messages: list[dict[str, Any]] = []
        expected = []
        for _ in range(chance.randint(1, 4)):
            if chance.random() < 0.2:
                asked, declined = chance.choice(DECLINED)
                messages += [{"type": "human", "content": asked}]
                messages += [{"type": "ai", "content": declined}]
                continue
            asked, (tool, args), returned, reply = chance.choice(ERRANDS)
            call = {"name": tool, "args": args}
            expected.append(call)
            messages += [
                {"type": "human", "content": asked},
                {"type": "ai", "content": "Let me check.", "tool_calls": [call]},
                {"type": "tool", "content": returned},
                {"type": "ai", "content": reply},
            ]
        rows.append(
            {
                "sample_id": f"conversation-{seed}-{index:04d}",
                "user_input": messages,
                "reference_tool_calls": expected,
                "reference": messages[-1]["content"],
                "reference_topics": chance.sample(TOPICS, chance.randint(1, 3)),
                "rubrics": dict(zip(RUBRIC_KEYS, RUBRIC_ENGLISH, strict=True)),
            }
        )
    return rows


def scoring_body(samples: list[dict], metrics: list[str]) -> dict[str, Any]:
    """A submission of the samples and metrics, with the definitions of the custom ones."""
    custom = [metric for metric in CUSTOM_METRICS if metric["name"] in metrics]
    return {"samples": samples, "metrics": metrics} | ({"custom_metrics": custom} if custom else {})


def measured(judge: ScriptedJudge, samples: list[dict], metrics: list[str]) -> dict:
    """What scoring really spent: requests and tokens, by model."""
    settings = Settings(openai_base_url=judge.base_url, openai_api_key="test")
    gate = default_gate(settings)
    request = parse_inline_request(scoring_body(samples, metrics))
    with asyncio.Runner() as runner:
        # A thread for each metric call in flight, and some to spare: semantic_similarity
        # waits in a thread on requests the loop sends, and the loop opens connections
        # with threads of the same pool.
        threads = ThreadPoolExecutor(2 * settings.max_concurrency + 4)
        runner.get_loop().set_default_executor(threads)
        runner.run(Scorer(settings).ascore(request, gate=gate))
    return gate.usage.model_dump()


def fit() -> None:
    """Each judge-backed metric's JudgeLoad, by least squares over single-sample runs; for
    a job's own metric, what its prompt holds besides its instructions (and rubric)."""
    single = BUNDLED + varied_samples(60, seed=1)
    conversations = varied_conversations(60, seed=1)
    settings = Settings()
    rows = []
    overheads = []
    with ScriptedJudge() as judge:
        for name in JUDGED + CUSTOM + CONVERSATION_JUDGED:
            samples = conversations if name in CONVERSATION_JUDGED else single
            spec = ScoreRequest.model_validate(scoring_body(samples, [name])).metric_specs()[0]
            points = []
            for raw in samples:
                sample = Sample.model_validate(raw)
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
            if spec.definition is not None:  # the part of the prompt its definition writes
                written = len(spec.definition["instructions"]) + sum(
                    len(text) for text in (spec.definition.get("rubric") or {}).values()
                )
                kind = spec.definition["kind"]
                overheads.append([kind, round(prompt, 1), round(written / 4, 1)])
                overheads[-1].append(round(prompt - written / 4, 1))
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
    print()
    print(
        table(["custom kind", "prompt_tokens", "definition (chars / 4)", "besides it"], overheads)
    )


def compared(judge: ScriptedJudge, samples: list[dict], metrics: list[str]) -> list[str]:
    """The estimate and the spend of scoring the samples: calls, tokens, and each error."""
    request = ScoreRequest.model_validate(scoring_body(samples, metrics))
    guess = estimate_samples(request, Settings(), request.samples).total
    spent = measured(judge, samples, metrics)
    tokens = spent["input_tokens"] + spent["output_tokens"]
    guessed = guess.input_tokens + guess.output_tokens
    return [
        f"{guess.judge_calls} / {spent['requests']}",
        f"{guess.judge_calls / spent['requests'] - 1:+.1%}",
        f"{guessed} / {tokens}",
        f"{guessed / tokens - 1:+.1%}",
    ]


def error() -> None:
    """The estimate against the spend: metric sets on the bundled samples and on 200 varied
    ones, then each metric alone on the varied ones."""
    varied = varied_samples(200, seed=2)
    sets = {"bundled samples (6)": BUNDLED, "varied samples (200)": varied}
    groups = {
        "default 4": list(DEFAULT_METRICS),
        f"all {len(JUDGED)} judged": JUDGED,
        f"{len(CUSTOM)} custom": CUSTOM,
    }
    header = ["calls est. / real", "error", "tokens est. / real", "error"]
    rows = []
    alone = []
    with ScriptedJudge() as judge:
        for label, samples in sets.items():
            for group, metrics in groups.items():
                rows.append([label, group, *compared(judge, samples, metrics)])
        for name in JUDGED:
            alone.append([name, *compared(judge, varied, [name])])
        for metric in CUSTOM_METRICS:
            label = f"{metric['name']} ({metric['kind']})"
            alone.append([label, *compared(judge, varied, [metric["name"]])])
        conversations = varied_conversations(200, seed=2)
        label = "varied conversations (200)"
        rows.append(
            [label, "all conversation", *compared(judge, conversations, CONVERSATION_JUDGED)]
        )
        for name in CONVERSATION_JUDGED:
            alone.append([f"{name} (conversations)", *compared(judge, conversations, [name])])
    print(table(["set", "metrics", *header], rows))
    print()
    print(table(["metric (varied samples, 200)", *header], alone))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--fit", action="store_true", help="print each metric's fitted load")
    (fit if parser.parse_args().fit else error)()


if __name__ == "__main__":
    main()
