"""People's labels of a job's run (`LabelService`) on in-memory ports: stored and read back,
one per (sample, metric, labeler), only on the caller's own written run, every refusal
naming its field."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from rag_eval.app.jobs import JobService
from rag_eval.app.labels import MAX_LABELS_PAGE, LabelService
from rag_eval.app.ports import LabelStore
from rag_eval.domain.errors import Conflict, JobNotFound, RequestInvalid
from rag_eval.domain.job import JobStatus
from rag_eval.domain.labels import (
    MAX_LABELS_PER_REQUEST,
    MAX_NOTE_CHARS,
    HumanLabel,
    label_targets,
)
from rag_eval.domain.layout import label_name
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState
from rag_eval.domain.trust import (
    LABEL_QUEUE_FILE,
    LABEL_SAMPLES_FILE,
    JudgeView,
    LabelSample,
    QueueFile,
    QueueMetric,
)
from rag_eval.metrics.spec import Scale
from tests.app.fakes import InMemoryJobs, InMemoryQueue, InMemoryStore

ME = "arn:aws:iam::123456789012:user/team-a"
OTHER = "arn:aws:iam::123456789012:user/team-b"
JOB = "0f3c9a2b7d4e4f1a8b6c5d2e"
RUN = f"20261129T160000Z-{JOB}"
SAMPLES = ["eiffel", "lambda", "=formula-like"]
DISCRETE = {
    "name": "uses_the_contexts",
    "kind": "discrete",
    "instructions": "Does {answer} rest on {contexts}? yes, partly or no.",
    "values": {"yes": 1.0, "partly": 0.5, "no": 0.0},
    "description": "",
}
METADATA = {
    "run_id": RUN,
    "job_id": JOB,
    "metrics": {
        "faithfulness": {"mean": 0.8, "scale": {"low": 0, "high": 1, "higher_is_better": True}},
        "rubrics_score_without_reference": {
            "mean": 3.5,
            "scale": {"low": 1, "high": 5, "higher_is_better": True},
        },
        "uses_the_contexts": {
            "mean": 0.5,
            "scale": {"low": 0, "high": 1, "higher_is_better": True},
            "definition": DISCRETE,
            "fingerprint": "0123456789ab",
        },
    },
}


class InMemoryLabels:
    """The label store: job id -> label name -> label, listed in name order (as S3 lists
    keys)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, HumanLabel]] = {}

    def put_labels(self, job_id: str, labels: list[HumanLabel]) -> None:
        folder = self.items.setdefault(job_id, {})
        for label in labels:
            folder[label_name(label.sample_id, label.metric, label.labeler)] = label

    def labels(
        self, job_id: str, limit: int, after: str | None
    ) -> tuple[list[HumanLabel], str | None]:
        names = sorted(n for n in self.items.get(job_id, {}) if after is None or n > after)
        page = names[:limit]
        more = len(names) > limit
        return [self.items[job_id][n] for n in page], page[-1] if more else None

    def names(self, job_id: str) -> list[str]:
        return sorted(self.items.get(job_id, {}))


_labels: LabelStore = InMemoryLabels()  # mypy: the fake has the port's methods


class CountingStore(InMemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def get(self, key: str) -> bytes:
        self.reads.append(key)
        return super().get(key)

    def lines(self, key: str) -> Iterator[bytes]:
        self.reads.append(key)
        return super().lines(key)


def label_files(sample_ids: list[str]) -> tuple[bytes, bytes]:
    """label-samples.jsonl and label-queue.json as a run folder holds them: the judge scored
    every sample but the last on faithfulness, each drawn alike."""
    lines = [
        LabelSample(
            sample_id=sid,
            question=f"question of {sid}",
            answer=f"answer of {sid}",
            contexts=[f"context of {sid}"],
            metrics={"faithfulness": JudgeView(score=0.5, why=f"why {sid}")},
        ).model_dump_json()
        + "\n"
        for sid in sample_ids
    ]
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode()))
    scored = len(sample_ids) - 1
    scores = [0.5] * scored + [None]
    uniform = [1 / scored] * scored + [0.0]
    queue = QueueFile(
        run_id=RUN,
        sample_ids=sample_ids,
        offsets=offsets,
        metrics={
            name: QueueMetric(scores=scores, probabilities=uniform, leaning="nowhere")
            for name in METADATA["metrics"]
        },
    )
    return "".join(lines).encode(), queue.model_dump_json().encode()


def a_job(job_id: str = JOB, *, owner: str = ME, written: bool = True) -> JobStatus:
    folder = f"score-async/{RUN}/"
    names = ("metadata.json", LABEL_QUEUE_FILE, LABEL_SAMPLES_FILE)
    return JobStatus(
        job_id=job_id,
        status=JobState.COMPLETED if written else JobState.RUNNING,
        created_at="2026-11-29T16:00:00.000Z",
        owner=owner,
        run_id=RUN if written else None,
        artifact_keys={name: folder + name for name in names} if written else {},
    )


@pytest.fixture
def ports() -> tuple[LabelService, InMemoryJobs, CountingStore, InMemoryLabels]:
    jobs, store, labels = InMemoryJobs(), CountingStore(), InMemoryLabels()
    jobs.create(a_job(), "hash", 0)
    store.put(f"score-async/{RUN}/metadata.json", json.dumps(METADATA).encode(), "")
    samples, queue = label_files(SAMPLES)
    store.put(f"score-async/{RUN}/{LABEL_SAMPLES_FILE}", samples, "")
    store.put(f"score-async/{RUN}/{LABEL_QUEUE_FILE}", queue, "")
    service = JobService(Settings(), jobs, InMemoryQueue(), store)
    return LabelService(service, store, labels, InMemoryQueue()), jobs, store, labels


def label(sample_id: str = "eiffel", metric: str = "faithfulness", value: Any = 1, **more: Any):
    return {"sample_id": sample_id, "metric": metric, "value": value, **more}


def refused(service: LabelService, body: Any) -> list[dict[str, Any]]:
    with pytest.raises(RequestInvalid) as raised:
        service.post(JOB, body, caller=ME)
    return raised.value.problems


def test_labels_are_stored_counted_per_metric_and_read_back(ports) -> None:
    service, _, _, _ = ports
    body = {
        "labels": [
            label(value=0.5, labeler="alice", note="half the claims are in the contexts"),
            label("lambda", "rubrics_score_without_reference", 4),
            label("lambda", "uses_the_contexts", "partly"),
        ]
    }

    stored = service.post(JOB, body, caller=ME)
    page = service.list(JOB, caller=ME)

    assert (stored.job_id, stored.run_id, stored.stored) == (JOB, RUN, 3)
    assert stored.by_metric == {
        "faithfulness": 1,
        "rubrics_score_without_reference": 1,
        "uses_the_contexts": 1,
    }
    read = {(x.sample_id, x.metric): x for x in page.labels}
    assert page.next_cursor is None and len(read) == 3
    faithful = read[("eiffel", "faithfulness")]
    assert (faithful.value, faithful.labeler, faithful.category) == (0.5, "alice", None)
    assert faithful.note == "half the claims are in the contexts" and faithful.labeled_at
    assert read[("lambda", "rubrics_score_without_reference")].value == 4.0
    assert read[("lambda", "rubrics_score_without_reference")].labeler == ""


def test_a_discrete_metric_of_the_job_takes_its_categories_by_name_and_keeps_their_number(
    ports,
) -> None:
    service, _, _, _ = ports

    service.post(JOB, [label(metric="uses_the_contexts", value="partly")], caller=ME)
    as_number = refused(service, [label(metric="uses_the_contexts", value=0.5)])
    unknown = refused(service, [label(metric="uses_the_contexts", value="maybe")])

    [stored] = service.list(JOB, caller=ME).labels
    assert (stored.category, stored.value) == ("partly", 0.5)
    for problems in (as_number, unknown):
        [problem] = problems
        assert problem["field"] == "labels[0].value"
        assert problem["allowed"] == ["yes", "partly", "no"]
    assert "'maybe' is not one of the metric's categories" in unknown[0]["message"]


def test_the_same_sample_metric_and_labeler_again_replaces_the_label(ports) -> None:
    service, _, _, labels = ports

    service.post(JOB, [label(value=0.2, labeler="alice", note="first look")], caller=ME)
    service.post(JOB, [label(value=0.9, labeler="alice")], caller=ME)
    service.post(JOB, [label(value=0.4, labeler="bob")], caller=ME)

    by_labeler = {x.labeler: x for x in service.list(JOB, caller=ME).labels}
    assert set(by_labeler) == {"alice", "bob"} and len(labels.items[JOB]) == 2
    assert (by_labeler["alice"].value, by_labeler["alice"].note) == (0.9, "")
    assert by_labeler["bob"].value == 0.4


def test_another_callers_job_is_not_found_exactly_as_an_unknown_one(ports) -> None:
    service, jobs, _, labels = ports
    jobs.create(a_job("1" * 24, owner=OTHER), "hash", 0)

    for job_id in (JOB, "0" * 24, "not-a-job"):
        with pytest.raises(JobNotFound):
            service.post(job_id, [label()], caller=OTHER if job_id == JOB else ME)
        with pytest.raises(JobNotFound):
            service.list(job_id, caller=OTHER if job_id == JOB else ME)
    with pytest.raises(JobNotFound):
        service.post("1" * 24, [label()], caller=ME)
    assert labels.items == {}


def test_a_job_without_a_run_yet_is_a_conflict_and_has_no_labels(ports) -> None:
    service, jobs, _, labels = ports
    jobs.create(a_job("2" * 24, written=False), "hash", 0)

    with pytest.raises(Conflict, match=r"is running and has no run yet: labels are given"):
        service.post("2" * 24, [label()], caller=ME)
    assert service.list("2" * 24, caller=ME).labels == []
    assert labels.items == {}


BAD_LABELS = {
    "a sample the run does not hold": (label("nope"), "labels[0].sample_id"),
    "a metric the job did not score": (label(metric="context_recall"), "labels[0].metric"),
    "a value off the metric's scale": (
        label(metric="rubrics_score_without_reference", value=7),
        "labels[0].value",
    ),
    "a value below the scale": (label(value=-0.1), "labels[0].value"),
    "text that is no number": (label(value="high"), "labels[0].value"),
    "true as a value": (label(value=True), "labels[0].value"),
    "no value": ({"sample_id": "eiffel", "metric": "faithfulness"}, "labels[0].value"),
    "a note too long": (label(note="x" * (MAX_NOTE_CHARS + 1)), "labels[0].note"),
    "a labeler no name": (label(labeler="alice\nbob"), "labels[0].labeler"),
    "a labeler too long": (label(labeler="a" * 101), "labels[0].labeler"),
    "an empty sample id": (label(""), "labels[0].sample_id"),
    "an unknown field": (label(score=1), "labels[0].score"),
}


@pytest.mark.parametrize("case", BAD_LABELS, ids=list(BAD_LABELS))
def test_each_invalid_label_is_refused_naming_its_field_and_nothing_is_stored(
    ports, case: str
) -> None:
    service, _, _, labels = ports
    bad, field = BAD_LABELS[case]

    # A good label first: all of a request's labels are stored, or none.
    problems = refused(service, [label("lambda"), bad])

    assert [p["field"] for p in problems] == [field.replace("[0]", "[1]")]
    assert all(p["message"] for p in problems)
    assert labels.items == {}


def test_what_is_allowed_is_said_where_it_is_not_obvious(ports) -> None:
    service, _, _, _ = ports

    [metric] = refused(service, [label(metric="context_recall")])
    [scale] = refused(service, [label(metric="rubrics_score_without_reference", value=7)])
    [labeler] = refused(service, [label(labeler="al  ice")])

    assert metric["allowed"] == sorted(METADATA["metrics"])
    assert scale == {
        "field": "labels[0].value",
        "message": "7 is outside the metric's scale",
        "allowed": "a number in 1..5 (the metric's scale)",
    }
    assert "letters" in labeler["allowed"] and labeler["message"] == "not a labeler's name"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"labels": []}, "labels"),
        ({"labels": [label()] * (MAX_LABELS_PER_REQUEST + 1)}, "labels"),
        ({"labelz": [label()]}, "labelz"),
        ("faithfulness=1", "body"),
        (None, "body"),
        ([label(), label(value=0.5)], "labels[1]"),  # the same label twice in one request
    ],
    ids=["none", "too many", "misnamed", "not json object", "null", "twice"],
)
def test_a_body_of_the_wrong_shape_is_refused_naming_its_field(ports, body, field) -> None:
    service, _, _, _ = ports

    problems = refused(service, body)

    assert field in [p["field"] for p in problems]


def test_every_problem_of_a_batch_is_named_and_their_number_bounded(ports) -> None:
    service, _, _, _ = ports
    body = [label(f"s{i}") for i in range(MAX_LABELS_PER_REQUEST)]

    problems = refused(service, body)

    assert len(problems) == 101
    assert problems[0]["field"] == "labels[0].sample_id"
    assert problems[-1] == {
        "field": "labels",
        "message": "900 more problem(s) not listed; fix these first",
    }


def test_a_number_written_as_text_is_a_number_as_a_csv_cell_gives_it(ports) -> None:
    service, _, _, _ = ports

    service.post(JOB, [label(value=" 0.75 "), label("lambda", value="1e-1")], caller=ME)

    assert sorted(x.value for x in service.list(JOB, caller=ME).labels) == [0.1, 0.75]
    for text in ("nan", "inf", "0x1", "1_0"):
        [problem] = refused(service, [label(value=text)])
        assert problem["field"] == "labels[0].value"


def test_a_sample_id_is_the_jobs_own_even_when_it_starts_like_a_formula(ports) -> None:
    service, _, _, _ = ports

    stored = service.post(JOB, [label("=formula-like")], caller=ME)

    assert stored.stored == 1


def test_the_run_is_read_once_for_many_requests(ports) -> None:
    service, _, store, _ = ports

    for value in (0.1, 0.2, 0.3):
        service.post(JOB, [label(value=value)], caller=ME)

    assert sorted(store.reads) == [
        f"score-async/{RUN}/{LABEL_QUEUE_FILE}",
        f"score-async/{RUN}/metadata.json",
    ]


def test_pages_follow_the_cursor_and_bad_parameters_are_refused(ports) -> None:
    service, _, _, _ = ports
    service.post(JOB, [label(sid) for sid in SAMPLES], caller=ME)

    first = service.list(JOB, caller=ME, limit="2")
    rest = service.list(JOB, caller=ME, limit="2", cursor=first.next_cursor)

    assert len(first.labels) == 2 and first.next_cursor is not None
    assert len(rest.labels) == 1 and rest.next_cursor is None
    assert {x.sample_id for x in first.labels + rest.labels} == set(SAMPLES)
    for query in (
        {"limit": "0"},
        {"limit": str(MAX_LABELS_PAGE + 1)},
        {"limit": "²"},
        {"cursor": "not-a-cursor"},
    ):
        with pytest.raises(RequestInvalid) as raised:
            service.list(JOB, caller=ME, **query)
        assert [p["field"] for p in raised.value.problems] == list(query)


def test_a_note_or_a_sample_id_is_never_logged(ports, caplog) -> None:
    service, _, _, _ = ports
    caplog.set_level(logging.DEBUG)

    service.post(JOB, [label(note="private remark about the answer")], caller=ME)

    [record] = [r for r in caplog.records if r.getMessage() == "labels stored"]
    assert (record.job_id, record.labels, record.metrics) == (JOB, 1, "faithfulness")
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "private remark" not in logged and "eiffel" not in logged


def test_a_run_folder_without_scales_gives_built_in_metrics_their_own() -> None:
    targets = label_targets({"metrics": {"rubrics_score_with_reference": {}, "mine": {}}})

    assert targets["rubrics_score_with_reference"].scale == Scale(1.0, 5.0)
    assert targets["mine"].scale == Scale(0.0, 1.0)


def test_a_label_name_is_one_per_sample_metric_and_labeler() -> None:
    names = {
        label_name("a", "b", ""),
        label_name("a", "b", "c"),
        label_name("a\x00b", "", ""),
        label_name("a", "b\x00", ""),
        label_name('a", "b', "", ""),
    }

    assert len(names) == 5
    assert label_name("a", "b", "c") == label_name("a", "b", "c")
