"""The API client and its commands, against a scripted API on loopback (no stack, no AWS).

What a person at a terminal sees: error lines, exit codes, pages, progress, saved files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import pytest

from rag_eval.app.answers import Estimate, Spend, SubmittedJob
from rag_eval.cli.main import main
from rag_eval.client import ApiError, RequestNotSent, ScoreJobsClient, sigv4_headers
from rag_eval.client.endpoint import is_loopback
from rag_eval.domain.comparison import Comparison, MetricChange
from rag_eval.metrics import DEFAULT_METRICS, MODEL_FREE_METRICS, REGISTRY
from tests.support.catalogue import catalogue
from tests.support.loopback import LoopbackServer


class Seen(NamedTuple):
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


Answer = tuple[int, Any] | tuple[int, Any, dict[str, str]]


class ScriptedApi(LoopbackServer):
    """Answers each METHOD /path from a script: a list of answers (the last one repeats)."""

    def __init__(self) -> None:
        self.script: dict[tuple[str, str], list[Answer] | Callable[[Seen], Answer]] = {}
        self.seen: list[Seen] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                seen = Seen(
                    self.command,
                    url.path,
                    parse_qs(url.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    json.loads(raw) if raw else None,
                )
                api.seen.append(seen)
                status, body, *extra = api.answer(seen)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)
        self.endpoint = f"{self.base}/v1"

    def answer(self, seen: Seen) -> Answer:
        scripted = self.script.get((seen.method, seen.path))
        if scripted is None:
            return 403, {"message": "Missing Authentication Token"}
        if callable(scripted):
            return scripted(seen)
        return scripted.pop(0) if len(scripted) > 1 else scripted[0]


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    """The scripted API; GET /metrics answers like a service that can score every metric."""
    with ScriptedApi() as running:
        every = [
            spec.describe() | {"available": True, "unavailable": None} for spec in REGISTRY.values()
        ]
        running.script[("GET", "/v1/metrics")] = [(200, catalogue(every))]
        yield running


def job(job_id: str = "j1", status: str = "completed", **fields: Any) -> dict[str, Any]:
    """A job as the API answers it (JobStatus; the fields not given are their defaults)."""
    done = 2 if status == "completed" else 1
    return {
        "job_id": job_id,
        "status": status,
        "created_at": "2026-11-29T16:00:00.000Z",
        "scores": {"chrf_score": 0.75} if status == "completed" else {"chrf_score": None},
        "weighted_score": 0.75 if status == "completed" else None,
        "coverage": 1.0 if status == "completed" else None,
        "run_id": "20261129T160000Z-j1" if status == "completed" else None,
        "sample_count": 2,
        "progress": {
            "samples_total": 2,
            "samples_done": done,
            "metric_calls_total": 2,
            "metric_calls_done": done,
        },
    } | fields


def submitted(job_id: str = "j1") -> dict[str, Any]:
    """POST /score-jobs' answer: the queued job, with its links."""
    links = {"self": f"/v1/score-jobs/{job_id}", "artifacts": f"/v1/score-jobs/{job_id}/artifacts"}
    return job(job_id, status="queued") | {"links": links}


ONE_SAMPLE = ["--question", "Q?", "--answer", "A.", "--ground-truth", "A."]


# --- errors and exit codes ----------------------------------------------------------------------


def test_a_422_prints_one_error_line_per_field_and_exits_2(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an API that refuses the body, naming two fields
    details = [
        {"field": "metrics", "message": "unknown metric(s): nope", "allowed": ["chrf_score"]},
        {"field": "samples[0].answer", "message": "too long", "allowed": "at most 20000"},
    ]
    api.script[("POST", "/v1/score-jobs")] = [
        (422, {"error": {"code": "invalid_request", "message": "not valid", "details": details}})
    ]

    # WHEN a job is submitted
    code = main(["submit", *ONE_SAMPLE, "--metrics", "nope", "--endpoint", api.endpoint])

    # THEN each problem is one line, and the exit code says "bad input"
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: metrics: unknown metric(s): nope (allowed: chrf_score)",
        "error: samples[0].answer: too long (allowed: at most 20000)",
    ]


def test_an_error_without_details_prints_its_code_and_message(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.script[("GET", "/v1/score-jobs/nope")] = [
        (404, {"error": {"code": "job_not_found", "message": "no job with id 'nope'"}})
    ]
    assert main(["status", "nope", "--endpoint", api.endpoint]) == 2
    assert capsys.readouterr().err == (
        "error: job_not_found: no job with id 'nope'\nnext: `rag-eval list` shows your jobs\n"
    )


def test_an_api_gateway_error_body_is_shown_too(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a route API Gateway does not know (its own body, not the functions' error shape)
    assert main(["status", "j1", "--endpoint", api.base + "/prod"]) == 2
    # THEN the user is told what API Gateway means by it, and what to check
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(
        f"error: http_403: Missing Authentication Token ({api.base}/prod/score-jobs/j1): no "
        "route there. The endpoint must be the API's base URL with its stage"
    )
    assert "RAG_EVAL_ENDPOINT" in line


def test_a_5xx_is_retried_for_reads_and_then_exits_4(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    unavailable = (
        503,
        {"error": {"code": "dependency_unavailable", "message": "down"}},
        {"Retry-After": "0"},
    )
    api.script[("GET", "/v1/score-jobs/j1")] = [unavailable]
    assert main(["status", "j1", "--endpoint", api.endpoint]) == 4
    assert capsys.readouterr().err == "error: dependency_unavailable: down\n"
    assert len(api.seen) == 4  # the first try and three retries


def test_a_throttled_read_succeeds_on_retry(api: ScriptedApi) -> None:
    api.script[("GET", "/v1/score-jobs/j1")] = [
        (429, {"message": "Too Many Requests"}, {"Retry-After": "0"}),
        (200, job()),
    ]
    assert ScoreJobsClient(api.endpoint).get_job("j1").status == "completed"
    assert len(api.seen) == 2


def test_a_submission_without_idempotency_key_is_never_sent_twice(api: ScriptedApi) -> None:
    api.script[("POST", "/v1/score-jobs")] = [
        (
            503,
            {"error": {"code": "dependency_unavailable", "message": "down"}},
            {"Retry-After": "0"},
        )
    ]
    with pytest.raises(ApiError) as raised:
        ScoreJobsClient(api.endpoint).submit({"question": "q"})
    assert raised.value.status == 503
    assert len(api.seen) == 1


@pytest.mark.integration  # a server of its own on loopback
def test_an_unreachable_endpoint_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    with ScriptedApi() as gone:
        endpoint = gone.endpoint
    code = main(["list", "--endpoint", endpoint])
    assert code == 4
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach {endpoint}/score-jobs")
    # AND the next step: start the local stack, or point the client elsewhere
    assert "rag-eval local start" in err and "RAG_EVAL_ENDPOINT" in err


# --- submit ------------------------------------------------------------------------------------


def test_submit_sends_the_samples_of_a_file_and_the_idempotency_key(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a CSV of two samples
    samples = tmp_path / "samples.csv"
    samples.write_text("sample_id,question,answer\ns1,Q1?,A1.\ns2,Q2?,A2.\n", encoding="utf-8")
    api.script[("POST", "/v1/score-jobs")] = [(202, submitted())]

    # WHEN it is submitted with a key
    code = main(
        ["submit", "--file", str(samples), "--idempotency-key", "k-1", "--endpoint", api.endpoint]
    )

    # THEN the body carries the samples and the default metrics, which the service said it
    # can score, and the key
    assert code == 0
    asked, sent = api.seen
    assert (asked.method, asked.path) == ("GET", "/v1/metrics")
    assert [s["sample_id"] for s in sent.body["samples"]] == ["s1", "s2"]
    assert sent.body["metrics"] == list(DEFAULT_METRICS)
    assert sent.headers["idempotency-key"] == "k-1"
    assert "x-api-key" not in sent.headers and "authorization" not in sent.headers
    out, err = capsys.readouterr()
    assert out == "job j1: queued\n"
    assert err.startswith(f"metrics: {', '.join(DEFAULT_METRICS)} (the default set)\n")


def test_submit_without_metrics_chooses_as_score_does_when_the_service_has_no_judge(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a service whose GET /metrics says it can score the model-free metrics only
    listed = [
        spec.describe() | {"available": spec.model_free, "unavailable": None}
        for spec in REGISTRY.values()
    ]
    api.script[("GET", "/v1/metrics")] = [(200, catalogue(listed))]
    api.script[("POST", "/v1/score-jobs")] = [(202, submitted())]

    # WHEN a sample is submitted without --metrics
    assert main(["submit", *ONE_SAMPLE, "--endpoint", api.endpoint]) == 0

    # THEN the model-free metrics are sent, and stderr says why, as `score` does
    assert api.seen[-1].body["metrics"] == list(MODEL_FREE_METRICS)
    err = capsys.readouterr().err
    assert "model-free metrics only: no judge is configured where the scoring runs" in err
    assert "OPENAI_BASE_URL" in err


def test_an_api_key_is_sent_as_x_api_key(api: ScriptedApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_EVAL_API_KEY", "secret")
    monkeypatch.setenv("RAG_EVAL_ENDPOINT", api.endpoint)
    api.script[("GET", "/v1/score-jobs/j1")] = [(200, job())]
    assert main(["status", "j1"]) == 0
    assert api.seen[0].headers["x-api-key"] == "secret"


def test_a_deployed_endpoint_is_signed_with_sigv4_for_execute_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    url = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/score-jobs"

    headers = sigv4_headers("POST", url, b"{}", {"Content-Type": "application/json"})

    assert (
        headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        and "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    )
    assert "X-Amz-Date" in headers
    assert not is_loopback(url)
    assert is_loopback("http://127.0.0.1:3000/v1") and is_loopback("http://localhost:3000/v1")


# --- wait -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("final", "exit_code"), [("completed", 0), ("failed", 1)])
def test_wait_shows_progress_and_exits_by_the_final_status(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str], final: str, exit_code: int
) -> None:
    # GIVEN a job that runs, then finishes
    ending = job(status=final, error="RuntimeError: boom" if final == "failed" else None)
    api.script[("GET", "/v1/score-jobs/j1")] = [(200, job(status="running")), (200, ending)]

    # WHEN it is waited for
    code = main(["wait", "j1", "--endpoint", api.endpoint])

    # THEN stderr showed its progress, stdout its end, and the exit code says how it ended
    out, err = capsys.readouterr()
    assert code == exit_code
    assert err.splitlines() == [
        "job j1: running, 1/2 samples, 1/2 metric calls",
        f"job j1: {final}, {2 if final == 'completed' else 1}/2 samples, "
        f"{2 if final == 'completed' else 1}/2 metric calls",
        # AND a completed job says how to fetch its run folder
        *(["  fetch it: rag-eval artifacts j1 --download runs/"] if final == "completed" else []),
    ]
    assert out.startswith(f"job j1: {final}\n")
    if final == "completed":
        assert "chrf_score  0.7500" in out
    else:
        assert "error: RuntimeError: boom" in out


def test_wait_gives_up_after_the_timeout_with_exit_3(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.script[("GET", "/v1/score-jobs/j1")] = [(200, job(status="running"))]
    assert main(["wait", "j1", "--timeout", "0.3", "--endpoint", api.endpoint]) == 3
    assert "still running after 0.3 s" in capsys.readouterr().err


# --- list ---------------------------------------------------------------------------------------


def paged(seen: Seen) -> Answer:
    """Three jobs, newest first, two per page."""
    cursor = seen.query.get("cursor", [None])[0]
    if cursor is None:
        return 200, {"jobs": [job("j3"), job("j2")], "next_cursor": "after-j2"}
    assert cursor == "after-j2"
    return 200, {"jobs": [job("j1", status="failed")], "next_cursor": None}


def test_list_shows_one_page_and_how_to_get_the_next(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.script[("GET", "/v1/score-jobs")] = paged
    assert main(["list", "--limit", "2", "--endpoint", api.endpoint]) == 0
    out, err = capsys.readouterr()
    header, *rows = out.splitlines()
    assert header.split() == ["job_id", "status", "created_at", "samples", "weighted", "run_id"]
    assert [line.split()[0] for line in rows] == ["j3", "j2"]
    assert err == "more: rag-eval list --cursor after-j2\n"
    assert api.seen[0].query == {"limit": ["2"]}


def test_list_all_follows_the_cursors_to_the_end(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.script[("GET", "/v1/score-jobs")] = paged
    assert (
        main(["list", "--all", "--status", "completed", "--json", "--endpoint", api.endpoint]) == 0
    )
    page = json.loads(capsys.readouterr().out)
    assert [j["job_id"] for j in page["jobs"]] == ["j3", "j2", "j1"]
    assert page["next_cursor"] is None
    assert [s.query.get("cursor") for s in api.seen] == [None, ["after-j2"]]
    assert all(s.query["status"] == ["completed"] for s in api.seen)


# --- artifacts ----------------------------------------------------------------------------------


def test_artifacts_download_saves_the_run_folder(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a completed job whose files are behind presigned URLs
    folder = "score-async/20261129T160000Z-j1"
    files = {"scores.csv": b"sample_id,chrf_score\ns1,0.75\n", "summary.md": "# Run ✓\n".encode()}
    api.script[("GET", "/v1/score-jobs/j1/artifacts")] = [
        (
            200,
            {
                "job_id": "j1",
                "run_id": "20261129T160000Z-j1",
                "bucket": "bucket",
                "expires_in": 900,
                "files": {
                    name: {
                        "key": f"{folder}/{name}",
                        "url": f"{api.base}/bucket/{folder}/{name}?X-Amz-Signature=x",
                    }
                    for name in files
                },
            },
        )
    ]
    for name, content in files.items():
        api.script[("GET", f"/bucket/{folder}/{name}")] = [(200, content)]

    # WHEN they are downloaded
    code = main(["artifacts", "j1", "--download", str(tmp_path), "--endpoint", api.endpoint])

    # THEN each file is saved under its key, unchanged, and no auth went to the presigned URLs
    assert code == 0
    for name, content in files.items():
        assert (tmp_path / folder / name).read_bytes() == content
    assert f"saved {tmp_path / folder / 'scores.csv'}" in capsys.readouterr().out
    assert all("x-api-key" not in s.headers for s in api.seen)


def test_artifacts_json_prints_the_apis_answer_as_it_came(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = {
        "job_id": "j1",
        "run_id": "r1",
        "bucket": "bucket",
        "expires_in": 900,
        "files": {"summary.md": {"key": "score-async/r1/summary.md", "url": "https://x/y"}},
    }
    api.script[("GET", "/v1/score-jobs/j1/artifacts")] = [(200, answer)]

    assert main(["artifacts", "j1", "--json", "--endpoint", api.endpoint]) == 0
    assert capsys.readouterr().out == json.dumps(answer, indent=2) + "\n"


# --- what the client reads ----------------------------------------------------------------------


def test_each_answer_is_read_into_the_model_its_status_has_on_the_route(api: ScriptedApi) -> None:
    estimate = Estimate(
        samples=1,
        metrics=["faithfulness"],
        judge_model="gpt-4o-mini",
        embedding_model="",
        total=Spend(judge_calls=4, input_tokens=900, output_tokens=100, cost_usd=0.0002),
        cached_share=0.0,
        cache_checked_pairs=1,
        to_spend=Spend(judge_calls=4, input_tokens=900, output_tokens=100, cost_usd=0.0002),
        duration_seconds=1,
        assumptions={"seconds_per_judge_call": 1.5, "tokens": "about 4 characters a token"},
    ).model_dump(mode="json")
    api.script[("POST", "/v1/score-jobs")] = [(202, submitted()), (200, estimate)]
    client = ScoreJobsClient(api.endpoint)

    queued, dry_run = client.submit({"question": "q"}), client.estimate({"question": "q"})

    assert isinstance(queued, SubmittedJob) and queued.links.self == "/v1/score-jobs/j1"
    assert isinstance(dry_run, Estimate) and dry_run.model_dump(mode="json") == estimate
    assert client.metrics().metrics[0].name == next(iter(REGISTRY))


def test_a_dry_run_is_asked_with_estimate_not_submit(api: ScriptedApi) -> None:
    # submit's answer is a queued job, always: a dry run (an estimate) is another call
    with pytest.raises(ValueError, match=r"a dry run is estimate\(body\)"):
        ScoreJobsClient(api.endpoint).submit({"question": "q", "dry_run": True})
    assert api.seen == []  # nothing was sent


def test_an_answer_not_in_its_routes_shape_is_not_the_apis(api: ScriptedApi) -> None:
    # GIVEN something at the endpoint that answers JSON, but not a job
    api.script[("GET", "/v1/score-jobs/j1")] = [(200, {"id": "j1", "state": "done"})]

    # THEN the client says it is not the API, as for an answer that is not JSON
    with pytest.raises(RequestNotSent, match="did not answer as the rag-eval API"):
        ScoreJobsClient(api.endpoint).get_job("j1")


# --- compare and gate ---------------------------------------------------------------------------


def comparison(**fields: Any) -> Comparison:
    change = MetricChange(
        metric="chrf_score",
        pairs=2,
        baseline=0.8,
        candidate=0.6,
        difference=-0.2,
        low=-0.3,
        high=-0.1,
        test="paired t-test",
        p_value=0.01,
        adjusted_p=0.01,
        verdict="regressed",
    )
    return Comparison(
        baseline_job="j0",
        candidate_job="j1",
        baseline_run="r0",
        candidate_run="r1",
        warnings=[],
        matched=2,
        only_in_baseline=0,
        only_in_candidate=0,
        unmatched_ids={},
        metrics=[change],
        regressions=[],
    ).model_copy(update=fields)


def test_compare_asks_until_ready_then_prints_the_comparison_and_saves_its_files(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a comparison the worker writes after the first ask
    compared = comparison()
    files = {"md": f"{api.base}/bucket/compare.md", "html": f"{api.base}/bucket/compare.html"}
    ready = {"status": "ready", **compared.model_dump(mode="json"), "files": files}
    pending = {"status": "pending", "job_id": "j1", "baseline": "j0"}
    api.script[("GET", "/v1/score-jobs/j1/compare")] = [(202, pending), (200, ready)]
    for extension in files:
        api.script[("GET", f"/bucket/compare.{extension}")] = [(200, extension.encode())]

    # WHEN the two runs are compared
    code = main(
        ["compare", "j0", "j1", "--json", "--out", str(tmp_path), "--endpoint", api.endpoint]
    )

    # THEN the comparison alone is printed (not the answer's status and links), its files saved
    assert code == 0
    assert capsys.readouterr().out == compared.model_dump_json(indent=2) + "\n"
    assert (tmp_path / "score-async" / "r1" / "compare-r0.md").read_bytes() == b"md"
    assert [s.query for s in api.seen if s.path.endswith("/compare")] == [{"baseline": ["j0"]}] * 2


def test_the_gate_reads_the_jobs_intervals(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    interval = {"mean": 0.75, "low": 0.7, "high": 0.8, "n": 2}
    api.script[("GET", "/v1/score-jobs/j1")] = [(200, job(intervals={"chrf_score": interval}))]

    passing = main(["gate", "j1", "--min", "chrf_score=0.5", "--endpoint", api.endpoint])
    failing = main(["gate", "j1", "--min", "chrf_score=0.9", "--endpoint", api.endpoint])

    assert (passing, failing) == (0, 1)
    assert capsys.readouterr().out.startswith("gate: PASS")


def test_judge_settings_in_the_clients_shell_are_said_not_to_reach_the_service(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a service without a judge, and the judge set in the client's own shell
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    refused = {
        "field": "metrics",
        "message": "metric(s) faithfulness cannot be scored here: faithfulness needs a judge "
        "model, and none is configured",
        "allowed": ["chrf_score"],
    }
    api.script[("POST", "/v1/score-jobs")] = [
        (422, {"error": {"code": "invalid_request", "message": "not valid", "details": [refused]}})
    ]

    # WHEN an LLM metric is submitted
    code = main(["submit", *ONE_SAMPLE, "--metrics", "faithfulness", "--endpoint", api.endpoint])

    # THEN besides the refusal, the user learns where the judge must be set
    assert code == 2
    err = capsys.readouterr().err
    assert "note: OPENAI_BASE_URL is set in this shell, but the judge is the service's own" in err
    assert "rag-eval local start" in err
    assert "error: metrics: metric(s) faithfulness cannot be scored here" in err
