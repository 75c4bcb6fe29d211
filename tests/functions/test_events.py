"""Job state change events through the real handlers on the template's resources in moto:
one event per transition on the stack's bus (read through a rule that targets a queue, as
a subscriber would), whatever the duplicate deliveries; and signed webhook deliveries to a
server on loopback, retried on a 5xx."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import boto3
import pytest

from rag_eval.adapters.aws.dynamodb import DynamoJobRepository
from rag_eval.adapters.aws.events import EventBridgeBus, announcer_of
from rag_eval.adapters.webhook_target import WebhookClient
from rag_eval.domain.settings import Settings
from rag_eval.local.dynamodb_writes import serialize_writes
from tests.support.lambdas import (
    api_event,
    body_of,
    get_job,
    invoke,
    queued_messages,
    reset_cached_clients,
    sqs_event,
    submit,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = {"question": "q", "answer": "a", "ground_truth": "a", "metrics": ["exact_match"]}


@pytest.fixture
def bus_events(stack: dict[str, str]) -> Iterator[Any]:
    """GIVEN a subscriber: a rule on the stack's bus sending every job event to a queue."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="job-events-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bus = stack["ScoreEvents"]
    events.put_rule(
        Name="tap",
        EventBusName=bus,
        EventPattern=json.dumps(
            {"source": ["ragas-serverless"], "detail-type": ["Score Job State Change"]}
        ),
    )
    events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
    seen: list[dict[str, Any]] = []

    def read() -> list[dict[str, Any]]:
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                seen.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return seen

    yield read


def drain(stack: dict[str, str], *, copies: int = 1, kinds: tuple[str, ...] = ()) -> list[str]:
    """Deliver the score queue's messages to the worker until it is empty, each `copies`
    times (a duplicate delivery); `kinds`: only those (the others are deleted unread)."""
    sqs = boto3.client("sqs")
    outcomes = []
    while messages := sqs.receive_message(
        QueueUrl=stack["ScoreQueue"], MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages", []):
        for message in messages:
            if not kinds or json.loads(message["Body"]).get("kind", "job") in kinds:
                for _ in range(copies):
                    assert invoke("worker", sqs_event([message])) == {"batchItemFailures": []}
                    outcomes.append(json.loads(message["Body"]).get("kind", "job"))
            sqs.delete_message(QueueUrl=stack["ScoreQueue"], ReceiptHandle=message["ReceiptHandle"])
    return outcomes


def test_each_state_change_is_published_once_whatever_the_duplicates(stack, bus_events) -> None:
    # WHEN a job is submitted, and its message delivered twice (a duplicate delivery)
    job = body_of(submit(SAMPLE))
    drain(stack, copies=2)
    assert get_job(job["job_id"])["status"] == "completed"

    # THEN the bus carried queued, running and completed: one event each
    events = bus_events()
    assert [e["detail"]["status"] for e in events] == ["queued", "running", "completed"]
    assert {e["source"] for e in events} == {"ragas-serverless"}
    assert {e["detail-type"] for e in events} == {"Score Job State Change"}
    completed = events[-1]["detail"]
    assert completed["event_id"] == f"{job['job_id']}:completed"
    assert completed["job_id"] == job["job_id"] and completed["run_id"]
    assert completed["scores"] == {"exact_match": 1.0}
    assert completed["owner"].startswith("arn:aws:iam::")

    # AND delivering the message yet again publishes nothing more
    message = {"Body": json.dumps({"kind": "job", "job_id": job["job_id"], "request": SAMPLE})}
    assert invoke("worker", sqs_event([message])) == {"batchItemFailures": []}
    assert len(bus_events()) == 3


def test_a_change_the_api_could_not_publish_is_published_by_the_worker(
    stack, bus_events, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN EventBridge failing while a job is submitted
    def unavailable(self: EventBridgeBus, event: Any) -> None:
        raise ConnectionError("EventBridge unreachable")

    with monkeypatch.context() as failing:
        failing.setattr(EventBridgeBus, "publish", unavailable)
        response = submit(SAMPLE)
    # THEN the submission is still accepted (its change is recorded, not yet published)
    assert response["statusCode"] == 202
    assert bus_events() == []

    # WHEN the worker takes the job's message: it publishes the queued event the API could not
    drain(stack)
    assert [e["detail"]["status"] for e in bus_events()] == ["queued", "running", "completed"]


def test_a_failed_publish_in_the_worker_is_retried_with_its_message(
    stack, bus_events, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a submitted job, and EventBridge failing the worker's first publish
    job = body_of(submit(SAMPLE))
    (message,) = queued_messages(stack)
    publish, attempts = EventBridgeBus.publish, []

    def fails_once(self: EventBridgeBus, event: Any) -> None:
        attempts.append(event.event_id)
        if len(attempts) == 1:
            raise ConnectionError("EventBridge unreachable")
        publish(self, event)

    monkeypatch.setattr(EventBridgeBus, "publish", fails_once)

    # WHEN the job's message is delivered: the running event is not taken
    assert invoke("worker", sqs_event([message]))["batchItemFailures"]
    assert get_job(job["job_id"])["status"] == "running"

    # THEN the queue's redelivery publishes it (its claim was given back), and the rest
    assert invoke("worker", sqs_event([message])) == {"batchItemFailures": []}
    assert [e["detail"]["status"] for e in bus_events()] == ["queued", "running", "completed"]


def test_concurrent_announcements_of_one_change_publish_it_once(stack, bus_events) -> None:
    # GIVEN a cancelled job, its cancel not announced yet (the API died before it did)
    serialize_writes()  # DynamoDB's per-item atomicity, which moto's threads lack
    job = body_of(submit(SAMPLE))
    repository = DynamoJobRepository(stack["ScoreJobs"])
    assert repository.cancel(job["job_id"], "2026-12-05T10:00:00.000Z")
    cancelled = repository.get(job["job_id"])[0]
    announcer = announcer_of(Settings.from_env())

    # WHEN eight deliveries announce it at once
    start = threading.Barrier(8)
    published: list[bool] = []

    def announce() -> None:
        start.wait()
        published.append(announcer.announce(cancelled))

    threads = [threading.Thread(target=announce) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN one of them published it, and the bus carried it once
    assert sorted(published) == [False] * 7 + [True]
    statuses = [e["detail"]["status"] for e in bus_events()]
    assert statuses == ["queued", "cancelled"]


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver on loopback: records each delivery, answers the scripted status."""

    answers: ClassVar[list[int]] = []
    received: ClassVar[list[dict[str, Any]]] = []
    url: ClassVar[str] = ""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append({"headers": dict(self.headers), "body": body})
        status = self.answers.pop(0) if self.answers else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver(stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Receiver]]:
    """GIVEN a webhook receiver on loopback, and a deployment that allows loopback (the
    local stack's setting) with no delay between attempts."""
    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("WEBHOOK_RETRY_BASE_SECONDS", "0")
    reset_cached_clients()
    Receiver.answers, Receiver.received = [], []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.url = f"http://127.0.0.1:{server.server_port}/hooks/ragas?team=qa"
    yield Receiver
    server.shutdown()
    server.server_close()


def readme_verify() -> Any:
    """The README's recipe for receivers, as a reader would copy it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    recipe = re.search(r"```python\n(# Verify a ragas-serverless webhook.*?)```", text, re.S)
    assert recipe, "README: the webhook recipe (a python block) is missing"
    namespace: dict[str, Any] = {}
    exec(recipe.group(1), namespace)
    return namespace["verify"]


def webhook_secret(caller: str | None = None) -> dict[str, Any]:
    event = api_event("api-metrics.json", caller=caller)
    event.update(resource="/webhook-secret", path="/webhook-secret")
    event["requestContext"].update(resourcePath="/webhook-secret", path="/v1/webhook-secret")
    response = invoke("api", event)
    assert response["statusCode"] == 200
    return body_of(response)


def test_a_webhook_gets_every_event_signed_with_its_owners_secret(stack, receiver) -> None:
    # GIVEN the caller's secret
    secret = webhook_secret()["secret"]

    # WHEN a job with a webhook runs
    job = body_of(submit({**SAMPLE, "notify": {"url": receiver.url}}))
    drain(stack)

    # THEN its receiver got queued, running, completed: each signed, verified by the recipe
    verify = readme_verify()
    details = []
    for delivery in receiver.received:
        headers, body = delivery["headers"], delivery["body"]
        assert verify(secret, headers["X-Ragas-Timestamp"], body, headers["X-Ragas-Signature"])
        assert not verify(
            "another secret", headers["X-Ragas-Timestamp"], body, headers["X-Ragas-Signature"]
        )
        detail = json.loads(body)
        assert headers["X-Ragas-Event-Id"] == detail["event_id"]
        details.append(detail)
    assert [d["status"] for d in details] == ["queued", "running", "completed"]
    assert {d["job_id"] for d in details} == {job["job_id"]}


def test_a_webhook_answering_500_twice_gets_the_third_attempt(stack, receiver) -> None:
    # GIVEN a receiver that fails twice
    receiver.answers = [500, 500]
    webhook_secret()
    body_of(submit({**SAMPLE, "notify": {"url": receiver.url}}))

    # WHEN the queued event's deliveries are handled (the job itself is left queued)
    handled = drain(stack, kinds=("webhook",))

    # THEN it was sent three times, the same event each time, and then taken
    assert handled == ["webhook"] * 3
    ids = {d["headers"]["X-Ragas-Event-Id"] for d in receiver.received}
    assert len(receiver.received) == 3 and len(ids) == 1


def test_the_webhook_secret_is_the_callers_own_and_stays_the_same(stack) -> None:
    first = webhook_secret()
    assert webhook_secret() == first
    assert len(first["secret"]) == 64 and first["signature_header"] == "X-Ragas-Signature"
    other = webhook_secret(caller="arn:aws:iam::123456789012:user/someone-else")
    assert other["secret"] != first["secret"]


def test_a_webhook_to_a_private_address_is_refused_at_submission(stack) -> None:
    response = submit({**SAMPLE, "notify": {"url": "https://10.0.0.5/hook"}})
    assert response["statusCode"] == 422
    (detail,) = body_of(response)["error"]["details"]
    assert detail["field"] == "notify.url"
    assert "10.0.0.5, a private address" in detail["message"]
    assert "https" in detail["allowed"]


def test_a_name_the_resolver_maps_to_loopback_is_refused_at_submission(stack) -> None:
    # "localhost" is no address to parse: the machine's resolver (/etc/hosts) gives it
    # 127.0.0.1 / ::1, which the check refuses on a deployment that allows no loopback.
    response = submit({**SAMPLE, "notify": {"url": "https://localhost:8443/hook"}})
    assert response["statusCode"] == 422
    (detail,) = body_of(response)["error"]["details"]
    assert detail["field"] == "notify.url"
    assert "a loopback address" in detail["message"] and "localhost" in detail["message"]


def test_a_webhook_answering_410_is_given_up_and_logged_without_its_query(
    stack, receiver, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a receiver that answers 410 Gone
    receiver.answers = [410]
    webhook_secret()
    body_of(submit({**SAMPLE, "notify": {"url": receiver.url}}))

    # WHEN the queued event's delivery is handled
    handled = drain(stack, kinds=("webhook",))

    # THEN it was tried once, given up, and the log names the URL without its query
    assert handled == ["webhook"] and len(receiver.received) == 1
    (given_up,) = [r for r in caplog.records if r.getMessage() == "webhook delivery given up"]
    assert given_up.url.endswith("/hooks/ragas") and "team=qa" not in str(given_up.__dict__)
    assert given_up.why == "answered 410"


def test_a_delivery_connects_to_the_checked_address_and_names_the_host(receiver) -> None:
    # GIVEN a name that only the check resolves (to loopback, allowed here): no real DNS
    # knows it, so a second lookup at connection time would fail
    def resolve(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        assert host == "hooks.rebind.invalid"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    port = int(receiver.url.split(":")[2].split("/")[0])
    client = WebhookClient(allow_loopback=True, resolve=resolve)

    # WHEN an event is posted to it
    status = client.post(f"http://hooks.rebind.invalid:{port}/in?x=1", b"{}", {"X-Test": "1"})

    # THEN the checked address got it, with the name as Host
    assert status == 200
    (delivery,) = receiver.received
    assert delivery["headers"]["Host"] == f"hooks.rebind.invalid:{port}"
    assert delivery["body"] == b"{}"
