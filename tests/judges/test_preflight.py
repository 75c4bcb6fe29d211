"""The check before a job's first judge call, with a jury: every juror is checked, and the
ones an unreachable endpoint would leave silent are named."""

from __future__ import annotations

from rag_eval.domain.request import ScoreOptions
from rag_eval.domain.settings import Settings
from rag_eval.judges.preflight import judge_failure

BEDROCK_HAIKU = "bedrock:anthropic.claude-3-haiku-20240307-v1:0"
DOWN = "cannot reach the judge at http://127.0.0.1:9/v1 (ConnectError)"


class Endpoint:
    """The OpenAI-compatible endpoint's check, down or up, noting the models it was asked
    for (the real one asks GET /models once for all of them)."""

    def __init__(self, down: bool) -> None:
        self.down = down
        self.asked: list[str] = []

    def __call__(self, settings: Settings, models: list[str]) -> str | None:
        self.asked += models
        return DOWN if self.down else None


def test_every_juror_is_checked_and_the_unreachable_ones_are_named() -> None:
    # GIVEN a jury of two OpenAI-compatible models and a Bedrock one, and their endpoint down
    options = ScoreOptions(metrics=["faithfulness"], judges=["gpt-4o", BEDROCK_HAIKU, "gpt-4.1"])
    endpoint = Endpoint(down=True)

    # WHEN the job's judges are checked before scoring
    failure = judge_failure(options, Settings(), endpoint)

    # THEN each juror was checked, and the job fails naming the jurors of that endpoint
    assert endpoint.asked == ["gpt-4o", BEDROCK_HAIKU, "gpt-4.1"]
    assert failure == f"JudgeUnreachable: {DOWN} (the endpoint of jurors gpt-4o, gpt-4.1)"


def test_a_jury_whose_endpoint_answers_passes() -> None:
    # GIVEN a jury and an embedded metric, their endpoint up
    options = ScoreOptions(
        metrics=["answer_relevancy"], judges=["gpt-4o", BEDROCK_HAIKU], embedding_model="emb"
    )
    endpoint = Endpoint(down=False)

    # WHEN it is checked THEN nothing fails, and the embedding model was checked too
    assert judge_failure(options, Settings(), endpoint) is None
    assert endpoint.asked == ["gpt-4o", BEDROCK_HAIKU, "emb"]


def test_one_judge_fails_as_it_always_did() -> None:
    # GIVEN one judge, its endpoint down
    options = ScoreOptions(metrics=["faithfulness"], judge_model="gpt-4o")

    # WHEN it is checked THEN the failure is the endpoint's alone, no juror named
    assert judge_failure(options, Settings(), Endpoint(down=True)) == f"JudgeUnreachable: {DOWN}"
