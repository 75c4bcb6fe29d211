"""Model-free metrics: surface overlap with the reference, scored with no judge at all."""

from __future__ import annotations

from rag_eval.metrics.spec import MetricGuide, MetricSpec

_FEW_WORDS = "Answers share few words with the reference answers"


def _overlap(
    name: str, ragas_class: str, description: str, meaning: str, strength: str
) -> MetricSpec:
    return MetricSpec(
        name,
        ragas_class,
        ("answer", "ground_truth"),
        needs_judge=False,
        needs_embeddings=False,
        description=description,
        guide=MetricGuide("generator", _FEW_WORDS, meaning, strength),
    )


SPECS = (
    _overlap(
        "bleu_score",
        "BleuScore",
        "BLEU n-gram overlap with the reference (whitespace tokens).",
        "BLEU counts n-gram overlap on whitespace tokens: harsh on paraphrase, 0 for a "
        "one-word answer, about 0 on Chinese or Japanese text.",
        "answers reuse the reference wording",
    ),
    _overlap(
        "rouge_score",
        "RougeScore",
        "ROUGE-L F-measure against the reference (whitespace tokens).",
        "ROUGE-L measures the longest common subsequence of whitespace tokens: about 0 on "
        "Chinese or Japanese text.",
        "answers follow the reference wording",
    ),
    _overlap(
        "chrf_score",
        "CHRFScore",
        "chrF character n-gram F-score against the reference (works for Chinese).",
        "chrF compares character n-grams: tolerant of inflection, and works on Chinese.",
        "answers are close to the references character by character",
    ),
    _overlap(
        "exact_match",
        "ExactMatch",
        "1 if the answer equals the reference exactly, else 0.",
        "exact_match is 1 only for an identical string: meaningful for short factoid "
        "references only.",
        "answers reproduce the references exactly",
    ),
    _overlap(
        "string_presence",
        "StringPresence",
        "1 if the reference string appears in the answer, else 0.",
        "string_presence is 1 when the reference appears verbatim in the answer: it needs "
        "short references (a name, a number).",
        "answers contain the reference strings",
    ),
    _overlap(
        "non_llm_string_similarity",
        "NonLLMStringSimilarity",
        "1 - normalised Levenshtein distance between answer and reference.",
        "non_llm_string_similarity is 1 minus the normalised edit distance of the whole "
        "strings: a length difference alone lowers it.",
        "answers are textually close to the references",
    ),
)
# BLEU and ROUGE split on whitespace: near 0 on text written without spaces.
WHITESPACE_TOKENISED = ("bleu_score", "rouge_score")
