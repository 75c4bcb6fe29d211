"""Rubric metrics: the judge scores each answer 1 to 5 against written descriptions of
each score (ragas' default rubrics, or the sample's own)."""

from __future__ import annotations

from rag_eval.metrics.spec import JudgeLoad, MetricGuide, MetricSpec, Scale

# ragas' rubric metrics answer an integer score from 1 to 5.
RUBRIC_SCALE = Scale(1.0, 5.0)

_RUBRIC_STEPS = (
    "Read the judge's feedback on the lowest-scored samples (explanations.jsonl): it says "
    "which part of the rubric the answer missed.",
    "Where the rubric asks for completeness, check retrieval first (context_recall): an "
    "answer cannot cover what the contexts lack.",
)


def _rubric(
    name: str, ragas_class: str, inputs: tuple[str, ...], description: str, meaning: str
) -> MetricSpec:
    return MetricSpec(
        name,
        ragas_class,
        inputs,
        needs_judge=True,
        needs_embeddings=False,
        description=description,
        guide=MetricGuide(
            "generator",
            "Answers fall short of the rubric",
            meaning,
            "answers meet the rubric's higher scores",
            _RUBRIC_STEPS,
        ),
        chain=1,
        # Requests and tokens per sample (bench/estimate.py --fit); a sample's own rubric
        # is among the texts the judge reads.
        load=(
            JudgeLoad(
                calls=1, prompt_tokens=1015, text_weight=1.0, output_tokens=15, output_weight=0.22
            )
            if "rubrics" in inputs
            else JudgeLoad(calls=1, prompt_tokens=858, text_weight=1.0, output_tokens=27)
        ),
        scale=RUBRIC_SCALE,
    )


SPECS = (
    _rubric(
        "rubrics_score_with_reference",
        "RubricsScoreWithReference",
        ("question", "answer", "ground_truth"),
        "The judge's 1-5 score of the answer against the reference, by ragas' rubric.",
        "ragas rubrics_score_with_reference has the judge score the answer from 1 to 5 by "
        "ragas' rubric for agreement with the reference answer (5: fully accurate, aligned, "
        "clear and thorough; 1: wrong or unrelated), with feedback.",
    ),
    _rubric(
        "rubrics_score_without_reference",
        "RubricsScoreWithoutReference",
        ("question", "answer"),
        "The judge's 1-5 score of the answer to the question, by ragas' rubric (no reference).",
        "ragas rubrics_score_without_reference has the judge score the answer from 1 to 5 by "
        "ragas' rubric for an accurate, clear and complete answer to the question, with no "
        "reference, with feedback: the judge's own knowledge decides what is accurate.",
    ),
    _rubric(
        "instance_specific_rubrics",
        "InstanceSpecificRubrics",
        ("question", "answer", "rubrics"),
        "The judge's 1-5 score of the answer by the sample's own rubric (`rubrics`).",
        "instance_specific_rubrics has the judge score each answer from 1 to 5 by the rubric "
        "its sample carries (score1_description ... score5_description), with feedback: "
        "what a good answer is differs from question to question.",
    ),
)
