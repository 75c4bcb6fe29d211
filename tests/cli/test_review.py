"""`rag-eval review`: the page's server on loopback and its proxy to a scripted API.

Only the page it printed can use it (the Host, the token, the Origin), its bodies are small
JSON, labels go on with the session's labeler, and the API's answers and errors come back
as they were; how the command starts: the metric it picks, the URL it prints.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from rag_eval.cli import review as review_module
from rag_eval.cli.main import main
from rag_eval.cli.review import MAX_BODY_BYTES, TOKEN_HEADER, Review, ReviewServer
from rag_eval.client import ScoreJobsClient
from tests.client.test_client import ScriptedApi, Seen, job

QUEUE = "/v1/score-jobs/j1/label-queue"
LABELS = "/v1/score-jobs/j1/labels"
RUN_ID = "20261129T160000Z-j1"


def queue_answer(metric: str = "faithfulness", samples: int = 2) -> dict[str, Any]:
    """GET .../label-queue's answer: the next samples, each with the judge's view."""
    return {
        "job_id": "j1",
        "run_id": RUN_ID,
        "metric": metric,
        "low": 0.0,
        "high": 1.0,
        "higher_is_better": True,
        "categories": None,
        "leaning": "more draws where the judge was least sure",
        "scored": 6,
        "labelled": 1,
        "answered": 1,
        "samples": [
            {
                "sample_id": f"s{i}",
                "probability": 0.2,
                "draws": [i + 2],
                "question": "<b>When?</b>",
                "answer": "In 1889.",
                "contexts": ["It was completed in 1889."],
                "ground_truth": "1889",
                "judge": {
                    "score": 0.5,
                    "why": "1 of 2 statements is not supported",
                    "evidence": {
                        "statements": [{"statement": "In 1889.", "supported": True, "reason": ""}]
                    },
                },
            }
            for i in range(samples)
        ],
    }


def stored(seen: Seen) -> tuple[int, dict[str, Any]]:
    labels = seen.body["labels"]
    return 200, {"job_id": "j1", "run_id": RUN_ID, "stored": len(labels), "by_metric": {}}


@pytest.fixture
def server(capsys: pytest.CaptureFixture[str]) -> Iterator[tuple[ReviewServer, ScriptedApi]]:
    """GIVEN the scripted API with a queue, a label route and a job, and a review of its
    faithfulness by alice served on a free port."""
    with ScriptedApi() as api:
        api.script[("GET", QUEUE)] = [(200, queue_answer())]
        api.script[("POST", LABELS)] = stored
        api.script[("GET", "/v1/score-jobs/j1")] = [(200, job())]
        running = ReviewServer(Review(ScoreJobsClient(api.endpoint), "j1", "faithfulness", "alice"))
        threading.Thread(target=running.serve_forever, kwargs={"poll_interval": 0.05}).start()
        try:
            yield running, api
        finally:
            running.shutdown()
            running.server_close()


def ask(
    server: ReviewServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    token: bool = True,
) -> tuple[int, dict[str, str], bytes]:
    """A request as the page sends it (the token as a header), unless told otherwise."""
    connection = http.client.HTTPConnection(server.host, timeout=10)
    sent = {"Host": server.host} | ({TOKEN_HEADER: server.review.token} if token else {})
    sent |= headers or {}
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for name, value in sent.items():
        connection.putheader(name, value)
    if body is not None and "Content-Length" not in sent:
        connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    answer = connection.getresponse()
    data = answer.read()
    connection.close()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, data


def posting(server: ReviewServer, body: Any, **options: Any) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} | options.pop("headers", {})
    status, _, answer = ask(server, "POST", "/api/labels", data, headers, **options)
    return status, json.loads(answer)


def test_the_page_is_served_under_a_policy_that_loads_nothing_from_elsewhere(server) -> None:
    running, api = server

    status, headers, page = ask(running, "GET", "/", token=False)
    _, script_headers, script = ask(running, "GET", "/review.js", token=False)

    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "http" not in policy
    assert b'src="/review.js"' in page and b"<script>" not in page  # nothing inline
    assert script_headers["content-type"].startswith("text/javascript")
    assert b"innerHTML" not in script and b"textContent" in script
    assert headers["referrer-policy"] == "no-referrer" and headers["cache-control"] == "no-store"
    assert not [name for name in headers if name.startswith("access-control-")]
    assert api.seen == []


@pytest.mark.parametrize(
    ("headers", "token", "status", "code"),
    [
        ({"Host": "attacker.example:80"}, True, 421, "wrong_host"),  # a rebound name
        ({"Host": "localhost"}, True, 421, "wrong_host"),
        ({}, False, 403, "bad_token"),
        ({TOKEN_HEADER: "guessed"}, True, 403, "bad_token"),
        ({"Origin": "http://attacker.example"}, True, 403, "wrong_origin"),
    ],
)
def test_a_call_not_from_the_printed_page_is_refused_before_the_api_is_asked(
    server, headers: dict[str, str], token: bool, status: int, code: str
) -> None:
    running, api = server

    answered, answer_headers, body = ask(running, "GET", "/api/queue", None, headers, token)
    refused_post, posted = posting(running, {"labels": []}, headers=headers, token=token)

    assert (answered, json.loads(body)["error"]["code"]) == (status, code)
    assert (refused_post, posted["error"]["code"]) == (status, code)
    assert "access-control-allow-origin" not in answer_headers
    assert api.seen == []


def test_the_token_may_be_given_in_the_query(server) -> None:
    running, api = server

    status, _, _ = ask(running, "GET", f"/api/session?token={running.review.token}", token=False)
    wrong, _, _ = ask(running, "GET", "/api/session?token=guessed", token=False)

    assert (status, wrong) == (200, 403)
    assert api.seen == []  # the session is this process's own


def test_the_queue_is_the_apis_for_the_metric_asked(server, capsys) -> None:
    running, api = server

    status, headers, body = ask(running, "GET", "/api/queue?metric=faithfulness&n=5")

    assert status == 200 and headers["content-type"] == "application/json"
    [seen] = api.seen
    assert (seen.method, seen.path) == ("GET", QUEUE)
    assert seen.query == {"metric": ["faithfulness"], "n": ["5"]}
    answer = json.loads(body)
    assert [s["sample_id"] for s in answer["samples"]] == ["s0", "s1"]
    assert answer["samples"][0]["question"] == "<b>When?</b>"  # as the API gave it
    assert "batch of 2 sample(s) on faithfulness: 1 of 6" in capsys.readouterr().out


def test_a_label_goes_on_with_the_sessions_labeler_whatever_the_page_says(server, capsys):
    running, api = server
    label = {"sample_id": "s0", "metric": "faithfulness", "value": 0.7, "labeler": "mallory"}

    status, answer = posting(running, {"labels": [label | {"note": "one claim unsupported"}]})

    assert status == 200 and answer["stored"] == 1
    [seen] = api.seen
    assert seen.path == LABELS
    assert seen.body == {"labels": [label | {"labeler": "alice", "note": "one claim unsupported"}]}
    assert "labelled s0 on faithfulness: 0.7 (1 so far)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"x" * (MAX_BODY_BYTES + 1), {}, 413, "too_large"),
        (b'{"labels": []}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (b"{not json", {}, 400, "invalid_json"),
        (b'[{"sample_id": "s0"}]', {}, 400, "invalid_request"),
        (b'{"labels": [{"sample_id": "s0", "metric": "m"}]}', {}, 422, "invalid_request"),
    ],
)
def test_a_body_too_large_not_json_or_not_labels_is_refused_here(
    server, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    running, api = server

    refused, answer = posting(running, body, headers=headers)

    assert (refused, answer["error"]["code"]) == (status, code)
    if status == 422:  # named as the API would name it
        assert answer["error"]["details"][0]["field"] == "labels[0].value"
    assert api.seen == []


def test_the_apis_refusal_comes_back_as_it_said_it(server) -> None:
    running, api = server
    api.script[("POST", LABELS)] = [
        (409, {"error": {"code": "conflict", "message": "the job has no run yet"}})
    ]
    label = {"sample_id": "s0", "metric": "faithfulness", "value": 1}

    status, answer = posting(running, {"labels": [label]})

    assert status == 409
    assert answer["error"] == {
        "code": "conflict",
        "message": "the job has no run yet",
        "details": [],
    }


def test_the_job_and_the_session_are_read_through_the_proxy(server) -> None:
    running, _ = server

    _, _, job_body = ask(running, "GET", "/api/job")
    _, _, session = ask(running, "GET", "/api/session")
    missing, _, _ = ask(running, "GET", "/api/elsewhere")

    assert json.loads(job_body)["job_id"] == "j1"
    assert json.loads(session) == {"job_id": "j1", "metric": "faithfulness", "labeler": "alice"}
    assert missing == 404


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[ReviewServer]:
    """The command's server, stopped as Ctrl-C stops it, once it would serve."""
    started: list[ReviewServer] = []

    def interrupted(self: ReviewServer, poll_interval: float = 0.5) -> None:
        started.append(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(ReviewServer, "serve_forever", interrupted)
    return started


def test_review_picks_the_jobs_first_judged_metric_and_opens_the_page(
    served, monkeypatch, capsys
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    scored = job(
        scores={"chrf_score": 0.7, "context_recall": 0.5, "faithfulness": 0.9},
        request_summary={"metrics": ["chrf_score", "context_recall", "faithfulness"]},
    )
    with ScriptedApi() as api:
        api.script[("GET", "/v1/score-jobs/j1")] = [(200, scored)]
        api.script[("GET", QUEUE)] = [(200, queue_answer("context_recall"))]

        code = main(["review", "j1", "--labeler", "alice", "--endpoint", api.endpoint])

    assert code == 0
    [running] = served
    assert running.review.metric == "context_recall" and running.review.labeler == "alice"
    assert opened == [running.url] and running.url.startswith("http://127.0.0.1:")
    out = capsys.readouterr().out
    assert f"review it at {running.url}" in out
    assert "context_recall: 1 of 6 scored samples labelled" in out
    assert api.seen[-1].query == {"metric": ["context_recall"], "n": ["1"]}


def test_review_without_a_judged_metric_or_with_a_bad_labeler_says_so(served, capsys) -> None:
    with ScriptedApi() as api:
        model_free = job(request_summary={"metrics": ["chrf_score"]})
        api.script[("GET", "/v1/score-jobs/j1")] = [(200, model_free)]

        no_metric = main(["review", "j1", "--no-browser", "--endpoint", api.endpoint])
        bad_name = main(["review", "j1", "--labeler", "a\tb", "--endpoint", api.endpoint])

    assert no_metric == 2 and bad_name == 2 and served == []
    err = capsys.readouterr().err
    assert "the job has no metric a judge scored" in err
    assert "--labeler" in err


def test_the_apis_refusal_of_the_metric_stops_review_before_it_serves(served, capsys) -> None:
    with ScriptedApi() as api:
        refusal = {"error": {"code": "invalid_request", "message": "faithfulness is not scored"}}
        api.script[("GET", QUEUE)] = [(422, refusal)]

        code = main(["review", "j1", "--metric", "faithfulness", "--endpoint", api.endpoint])

    assert code == 2 and served == []
    assert "faithfulness is not scored" in capsys.readouterr().err


def test_the_page_and_its_files_ship_with_the_package() -> None:
    from importlib.resources import files

    for package, name, _ in review_module.ASSETS.values():
        assert (files(package) / "assets" / name).is_file(), name


def test_a_port_already_taken_is_said_as_the_flags_problem(served, capsys) -> None:
    with ScriptedApi() as api, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        api.script[("GET", QUEUE)] = [(200, queue_answer())]

        given = ["--metric", "faithfulness", "--port", str(port), "--endpoint", api.endpoint]
        code = main(["review", "j1", *given])

    assert code == 2 and served == []
    assert f"--port: cannot serve on 127.0.0.1:{port}" in capsys.readouterr().err
