"""Metrics against the reference answer that need a judge or embeddings."""

from __future__ import annotations

from rag_eval.metrics.spec import JudgeLoad, MetricGuide, MetricSpec

_DISAGREE = "Answers disagree with the reference answers"

ANSWER_CORRECTNESS = MetricSpec(
    "answer_correctness",
    "AnswerCorrectness",
    ("question", "answer", "ground_truth"),
    needs_judge=True,
    needs_embeddings=True,
    description="Factual overlap with the reference answer, blended with semantic similarity.",
    guide=MetricGuide(
        "generator",
        _DISAGREE,
        "answer_correctness weighs the answer's claims against the reference (supported, "
        "wrong, missing) and blends in semantic similarity.",
        "answers agree with the reference answers",
    ),
    chain=5,
    # Requests and tokens per sample (bench/estimate.py --fit).
    load=JudgeLoad(
        calls=3,
        embedding_calls=2,
        embedding_weight=0.84,
        prompt_tokens=980,
        text_weight=2.18,
        output_weight=3.94,
    ),
)

FACTUAL_CORRECTNESS = MetricSpec(
    "factual_correctness",
    "FactualCorrectness",
    ("answer", "ground_truth"),
    needs_judge=True,
    needs_embeddings=False,
    description="F1 of the answer's claims against the reference answer's claims.",
    guide=MetricGuide(
        "generator",
        _DISAGREE,
        "factual_correctness is the F1 of the answer's claims against the reference's claims: "
        "missing facts and extra claims both lower it.",
        "the answers' claims match the reference claims",
    ),
    chain=4,
    # Requests and tokens per sample (bench/estimate.py --fit).
    load=JudgeLoad(
        calls=4, prompt_tokens=826, text_weight=3.18, output_tokens=9, output_weight=4.23
    ),
)

SEMANTIC_SIMILARITY = MetricSpec(
    "semantic_similarity",
    "SemanticSimilarity",
    ("answer", "ground_truth"),
    needs_judge=False,
    needs_embeddings=True,
    description="Cosine similarity of answer and reference embeddings.",
    guide=MetricGuide(
        "generator",
        _DISAGREE,
        "semantic_similarity is the embedding cosine of answer and reference: coarse, it "
        "tracks topic and wording more than facts.",
        "answers mean the same as the references",
    ),
    chain=2,
    # ragas 0.4.3's ascore calls the sync embed_text(); it must not block the job's loop.
    blocking_embeddings=True,
    # Requests and tokens per sample (bench/estimate.py --fit).
    load=JudgeLoad(embedding_calls=2, embedding_weight=1.0),
)

ANSWER_ACCURACY = MetricSpec(
    "answer_accuracy",
    "AnswerAccuracy",
    ("question", "answer", "ground_truth"),
    needs_judge=True,
    needs_embeddings=False,
    description="Agreement of the answer with the reference answer (two judge ratings).",
    guide=MetricGuide(
        "generator",
        _DISAGREE,
        "answer_accuracy has the judge rate, twice with the answer and the reference in "
        "swapped roles, how far the answer agrees with the reference (0, 2 or 4), averaged on "
        "0..1.",
        "answers agree with the reference answers",
    ),
    # Two judge prompts, one after the other; ragas asks each again (up to 5 times in all)
    # only when its rating is off the scale or the request fails.
    chain=2,
    # Requests and tokens per sample (bench/estimate.py --fit): both prompts carry the texts.
    load=JudgeLoad(calls=2, prompt_tokens=675, text_weight=2.0, output_tokens=4),
)

SPECS = (ANSWER_CORRECTNESS, FACTUAL_CORRECTNESS, SEMANTIC_SIMILARITY, ANSWER_ACCURACY)
