"""Metrics of the generator: is the answer grounded in its contexts, and on the question?"""

from __future__ import annotations

from types import MappingProxyType

from rag_eval.metrics.concurrent import concurrent_answer_relevancy, concurrent_noise_sensitivity
from rag_eval.metrics.spec import JudgeLoad, MetricGuide, MetricSpec, Scale

GROUNDING_STEPS = (
    "Tell the generator to answer only from the provided contexts, and to say so when they "
    "do not contain the answer.",
    "Ask for a citation (chunk id) per sentence and drop sentences without one.",
    "Lower the generation temperature, or try a stronger generator model.",
    "Check that the contexts reach the model whole: a prompt template that truncates long "
    "contexts leaves the model guessing.",
)


FAITHFULNESS = MetricSpec(
    "faithfulness",
    "Faithfulness",
    ("question", "answer", "contexts"),
    needs_judge=True,
    needs_embeddings=False,
    description="Share of the answer's claims that the retrieved contexts support.",
    guide=MetricGuide(
        "generator",
        "Answers make claims the contexts do not support",
        "ragas faithfulness splits the answer into claims and checks each one against the "
        "retrieved contexts. A low score means the generator states things the contexts do "
        "not say: hallucinations, or knowledge from the model's own memory (true facts from "
        "outside the contexts count as unsupported too).",
        "answers stay within what the retrieved contexts say",
        GROUNDING_STEPS,
    ),
    chain=2,
    # Requests and tokens per sample (bench/estimate.py --fit).
    load=JudgeLoad(
        calls=2, prompt_tokens=869, text_weight=1.16, output_tokens=40, output_weight=0.56
    ),
)

ANSWER_RELEVANCY = MetricSpec(
    "answer_relevancy",
    "AnswerRelevancy",
    ("question", "answer"),
    needs_judge=True,
    needs_embeddings=True,
    description="How directly the answer addresses the question (no evasion, no drift).",
    guide=MetricGuide(
        "generator",
        "Answers drift from the question or dodge it",
        "ragas answer_relevancy has the judge write the questions the answer would answer and "
        "compares them with the real question by embeddings; noncommittal answers ('I don't "
        "know', 'it depends') score 0. A low score means off-topic, padded, partial or "
        "evasive answers: usually a prompt problem.",
        "answers address the question directly",
        (
            "Make the prompt ask for a direct answer to the question first, details after.",
            "Cut boilerplate, disclaimers and restated context from the answers.",
            "Answer in the language of the question: a cross-language answer lowers the "
            "embedding similarity.",
            "If answers are evasive because the contexts lacked the facts, fix retrieval "
            "(context_recall) rather than the prompt.",
        ),
    ),
    chain=2,  # 3 generations at once, then 1 embedding call (concurrent_answer_relevancy)
    custom_class=concurrent_answer_relevancy,
    # Requests and tokens per sample (bench/estimate.py --fit).
    load=JudgeLoad(
        calls=3,
        embedding_calls=1,
        embedding_weight=0.89,
        prompt_tokens=618,
        text_weight=2.99,
        output_tokens=20,
        output_weight=0.11,
    ),
)

RESPONSE_GROUNDEDNESS = MetricSpec(
    "response_groundedness",
    "ResponseGroundedness",
    ("answer", "contexts"),
    needs_judge=True,
    needs_embeddings=False,
    description="How far the answer as a whole is grounded in the contexts (two judge ratings).",
    guide=MetricGuide(
        "generator",
        "Answers are not grounded in the contexts",
        "ragas response_groundedness has the judge rate, twice with two different prompts, "
        "whether the answer is supported by the retrieved contexts (0, 1 or 2) and averages "
        "the ratings on 0..1. Coarser than faithfulness (one rating, no claims): a low score "
        "means answers that go beyond or against what the contexts say.",
        "answers are grounded in the retrieved contexts",
        GROUNDING_STEPS,
    ),
    # Two judge prompts, one after the other; ragas asks each again (up to 5 times in all)
    # only when its rating is off the scale or the request fails.
    chain=2,
    # Requests and tokens per sample (bench/estimate.py --fit): both prompts carry the texts.
    load=JudgeLoad(calls=2, prompt_tokens=614, text_weight=2.01, output_tokens=4),
)

_NOISE_STEPS = (
    "Rerank and pass fewer chunks: each chunk the generator does not need is a chance to "
    "be misled.",
    "Tell the generator to prefer the chunk that answers the question and to ignore "
    "passages on other topics.",
    "Compare with context_precision: noise the retriever ranks high is where to start.",
)


def _noise(mode: str, name: str, description: str, meaning: str) -> MetricSpec:
    return MetricSpec(
        name,
        "NoiseSensitivity",
        ("question", "answer", "contexts", "ground_truth"),
        needs_judge=True,
        needs_embeddings=False,
        description=description,
        guide=MetricGuide(
            "generator",
            "Answers repeat wrong claims from the retrieved chunks",
            meaning,
            "answers are not led astray by the retrieved chunks",
            _NOISE_STEPS,
        ),
        ragas_options=MappingProxyType({"mode": mode}),
        # ragas 0.4.3 asks 3 + 2 per context one after another; here the two splits go out
        # together, then every verdict (concurrent_noise_sensitivity).
        chain=2,
        custom_class=concurrent_noise_sensitivity,
        # Requests and tokens per sample (bench/estimate.py --fit; the output's fixed part
        # came out below zero, and is left out).
        load=JudgeLoad(
            calls=3, calls_per_context=2, prompt_tokens=925, text_weight=2.33, output_weight=3.05
        ),
        scale=Scale(higher_is_better=False),
    )


NOISE_SENSITIVITY = _noise(
    "relevant",
    "noise_sensitivity",
    "Share of the answer's claims that are wrong and drawn from relevant contexts "
    "(lower is better).",
    "ragas noise_sensitivity (its relevant mode) counts the answer's statements that the "
    "reference does not support but a relevant retrieved context does: wrong claims the "
    "generator took from chunks that hold the answer among other things. Lower is better: "
    "a high score means the generator repeats the wrong detail of a mostly right chunk.",
)
NOISE_SENSITIVITY_IRRELEVANT = _noise(
    "irrelevant",
    "noise_sensitivity_irrelevant",
    "Share of the answer's claims that are wrong and drawn from irrelevant contexts "
    "(lower is better).",
    "ragas noise_sensitivity in its irrelevant mode counts the answer's statements that the "
    "reference does not support and that come from retrieved contexts holding none of the "
    "reference: the generator was misled by noise. Lower is better.",
)

QUOTED_SPANS_ALIGNMENT = MetricSpec(
    "quoted_spans_alignment",
    "QuotedSpansAlignment",
    ("answer", "contexts"),
    needs_judge=False,
    needs_embeddings=False,
    description='Share of the answer\'s quoted spans ("...", 3+ words) found in the contexts.',
    guide=MetricGuide(
        "generator",
        "Answers quote text the contexts do not contain",
        "ragas quoted_spans_alignment finds the spans the answer puts in quotation marks (3 "
        "words or more) and checks that each appears in a retrieved context, ignoring case. "
        "An answer without quotes scores 1. A low score means misquoted or invented "
        "citations.",
        "the answers' quotations are found in the contexts",
        (
            "Ask the generator to quote only verbatim text from the contexts, or not to quote.",
            "Check that the contexts reach the generator whole: a truncated chunk cannot be "
            "quoted exactly.",
        ),
    ),
)

SPECS = (
    FAITHFULNESS,
    ANSWER_RELEVANCY,
    RESPONSE_GROUNDEDNESS,
    NOISE_SENSITIVITY,
    NOISE_SENSITIVITY_IRRELEVANT,
    QUOTED_SPANS_ALIGNMENT,
)
