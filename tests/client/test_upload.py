"""Uploads and cancels through the client: a file streamed to S3 by a presigned POST (moto's
S3 server, the URL handed out by a scripted API), S3's refusals, and the cancel answers."""

from __future__ import annotations

import http.client
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from rag_eval.client import ApiError, ScoreJobsClient
from rag_eval.client.upload import CHUNK_BYTES, count_rows, human_bytes, post_form
from tests.client.test_client import ScriptedApi, Seen, job
from tests.support.loopback import FakeS3

BUCKET = "rag-eval-uploads"
MAX_BYTES = 1024**3


@pytest.fixture
def s3() -> Iterator[Any]:
    """moto's S3 server on loopback with one bucket, and a boto3 client of it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{host}:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    server.stop()


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    with ScriptedApi() as running:
        yield running


def hand_out_uploads(api: ScriptedApi, s3: Any, max_bytes: int = MAX_BYTES) -> list[str]:
    """POST /v1/uploads answers with a presigned POST for uploads/<id>/<filename>."""
    keys: list[str] = []

    def create(seen: Seen) -> tuple[int, Any]:
        upload_id = secrets.token_hex(12)
        keys.append(f"uploads/{upload_id}/{seen.body['filename']}")
        post = s3.generate_presigned_post(
            BUCKET,
            keys[-1],
            Conditions=[["content-length-range", 1, max_bytes]],
            ExpiresIn=900,
        )
        return 201, {
            "upload_id": upload_id,
            "url": post["url"],
            "fields": post["fields"],
            "expires_in": 900,
            "max_bytes": max_bytes,
        }

    api.script[("POST", "/v1/uploads")] = create
    return keys


class Wire:
    """What went out over http.client: headers per host, and the largest single write."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.headers: dict[str, list[str]] = {}
        self.largest_write = 0
        put, send = http.client.HTTPConnection.putheader, http.client.HTTPConnection.send
        wire = self

        def putheader(conn: http.client.HTTPConnection, header: str, *values: Any) -> None:
            wire.headers.setdefault(f"{conn.host}:{conn.port}", []).append(header.lower())
            put(conn, header, *values)

        def sending(conn: http.client.HTTPConnection, data: Any) -> None:
            if isinstance(data, bytes | bytearray):
                wire.largest_write = max(wire.largest_write, len(data))
            send(conn, data)

        monkeypatch.setattr(http.client.HTTPConnection, "putheader", putheader)
        monkeypatch.setattr(http.client.HTTPConnection, "send", sending)


# --- the streamed upload --------------------------------------------------------------------


def test_a_file_is_streamed_to_s3_through_the_presigned_post(
    api: ScriptedApi, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a file of a few MB (not a whole number of chunks) and an API handing out uploads
    data = tmp_path / "data.csv"
    content = b"question,answer\n" + secrets.token_bytes(3 * CHUNK_BYTES + 12_345)
    data.write_bytes(content)
    keys = hand_out_uploads(api, s3)
    wire = Wire(monkeypatch)
    seen_progress: list[tuple[int, int]] = []

    # WHEN it is uploaded by a client with an API key
    client = ScoreJobsClient(api.endpoint, api_key="secret")
    upload_id = client.upload_file(data, on_progress=lambda s, t: seen_progress.append((s, t)))
    headers = {host: set(names) for host, names in wire.headers.items()}

    # THEN the API was asked for an upload of that name and size, and answered its id
    [asked] = api.seen
    assert (asked.method, asked.path) == ("POST", "/v1/uploads")
    assert asked.body == {"filename": "data.csv", "size_bytes": len(content)}
    assert keys == [f"uploads/{upload_id}/data.csv"]

    # AND the object in S3 is the file, byte for byte
    stored = s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read()
    assert stored == content

    # AND the progress rose chunk by chunk to the file's size
    sent = [s for s, _ in seen_progress]
    assert len(sent) == 4 and sent == sorted(set(sent))
    assert seen_progress[-1] == (len(content), len(content))
    assert {t for _, t in seen_progress} == {len(content)}

    # AND the file went in chunks (never whole), and the presigned URL got no API key
    assert wire.largest_write <= CHUNK_BYTES
    api_host = api.base.removeprefix("http://")
    [s3_host] = [host for host in headers if host != api_host]
    assert "x-api-key" in headers[api_host]
    assert not {"x-api-key", "authorization"} & headers[s3_host]
    assert "content-length" in headers[s3_host]


def test_a_file_over_the_limit_is_refused_before_a_byte_is_sent(
    api: ScriptedApi, s3: Any, tmp_path: Path
) -> None:
    # GIVEN an API whose uploads take 1,000 bytes at most, and a file of 2,000
    data = tmp_path / "big.jsonl"
    data.write_bytes(b"x" * 2000)
    keys = hand_out_uploads(api, s3, max_bytes=1000)

    # WHEN it is uploaded
    with pytest.raises(ApiError) as raised:
        ScoreJobsClient(api.endpoint).upload_file(data)

    # THEN the error names the file's size and the limit, and S3 holds nothing
    assert raised.value.status == 413 and raised.value.client_error
    assert raised.value.lines() == [
        "EntityTooLarge: big.jsonl is 2.0 KiB: over the upload limit of 1,000 bytes"
    ]
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=keys[0]).get("KeyCount") == 0


@pytest.mark.parametrize(
    ("status", "xml", "line"),
    [
        (
            400,
            "<Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds the "
            "maximum allowed size</Message><ProposedSize>3000</ProposedSize>"
            "<MaxSizeAllowed>2048</MaxSizeAllowed></Error>",
            "EntityTooLarge: data.csv is 2.9 KiB: over the upload limit of 2.0 KiB",
        ),
        (
            403,
            "<Error><Code>AccessDenied</Code><Message>Invalid according to Policy: Policy "
            "expired.</Message></Error>",
            "AccessDenied: the upload URL expired before data.csv was sent (it is valid 900 s): "
            "run the command again",
        ),
        (
            400,
            "<Error><Code>InvalidPolicyDocument</Code><Message>Invalid Policy: bad "
            "condition</Message></Error>",
            "InvalidPolicyDocument: S3 refused the upload of data.csv: Invalid Policy: bad "
            "condition",
        ),
    ],
    ids=["too-large", "expired", "other"],
)
def test_s3s_refusal_is_an_api_error_a_person_can_act_on(
    api: ScriptedApi, tmp_path: Path, status: int, xml: str, line: str
) -> None:
    data = tmp_path / "data.csv"
    data.write_bytes(b"q" * 3000)
    with FakeS3(BUCKET, status, xml) as s3:
        api.script[("POST", "/v1/uploads")] = [
            (
                201,
                {
                    "upload_id": "u1",
                    "url": s3.url,
                    "fields": {"key": "uploads/u1/data.csv"},
                    "expires_in": 900,
                    "max_bytes": MAX_BYTES,
                },
            )
        ]
        with pytest.raises(ApiError) as raised:
            ScoreJobsClient(api.endpoint).upload_file(data)
    assert raised.value.status == status
    assert raised.value.lines() == [line]
    assert s3.posts == 1  # a refusal is not retried


def test_an_answer_before_the_file_was_read_is_still_heard(tmp_path: Path) -> None:
    # GIVEN an S3 stand-in that refuses on the headers alone and closes without reading on
    refusal = b"<Error><Code>AccessDenied</Code><Message>Policy expired.</Message></Error>"
    listener = socket.create_server(("127.0.0.1", 0))

    def refuse_early() -> None:
        conn, _ = listener.accept()
        with conn:
            received = b""
            while b"\r\n\r\n" not in received:
                received += conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n"
                + f"Content-Length: {len(refusal)}\r\n\r\n".encode()
                + refusal
            )
            conn.shutdown(socket.SHUT_WR)
            time.sleep(0.3)

    threading.Thread(target=refuse_early, daemon=True).start()
    data = tmp_path / "data.csv"
    data.write_bytes(b"q" * (16 * CHUNK_BYTES))  # more than the socket buffers hold

    # WHEN the file is posted THEN the refusal is the answer, not a broken pipe
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/{BUCKET}"
    with listener:
        assert post_form(url, {"key": "k"}, data, timeout=10) == (403, refusal)


@pytest.mark.parametrize(
    ("url", "proxy"),
    [("http:///rag-eval-uploads", None), ("http://s3.test/b", "http://user:secret@:3128")],
)
def test_a_url_or_proxy_without_a_host_cannot_be_sent_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, proxy: str | None
) -> None:
    # GIVEN an upload URL, or the proxy it would go through, that names no host
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    if proxy is not None:
        monkeypatch.setenv("http_proxy", proxy)
    data = tmp_path / "data.csv"
    data.write_bytes(b"q")

    # WHEN the file is posted THEN it is an HTTP error the client reports as not sent,
    # and the proxy's password is not in it
    with pytest.raises(http.client.InvalidURL, match="no host") as raised:
        post_form(url, {"key": "k"}, data, timeout=1)
    assert "secret" not in str(raised.value)


def test_samples_are_counted_as_their_readers_count_them(tmp_path: Path) -> None:
    csv_file = tmp_path / "s.csv"
    csv_file.write_text(
        'question,contexts\nQ1,"first paragraph\n\nsecond paragraph"\n\nQ2,c\n', encoding="utf-8"
    )
    jsonl = tmp_path / "s.jsonl"
    jsonl.write_text('{"question": "Q1"}\n\n{"question": "Q2"}\n  \n', encoding="utf-8")
    assert count_rows(csv_file) == 2  # a quoted cell's line breaks are not rows
    assert count_rows(jsonl) == 2
    assert [human_bytes(n) for n in (999, 1536, 12_900_000, 2 * 1024**3)] == [
        "999 bytes",
        "1.5 KiB",
        "12.3 MiB",
        "2.0 GiB",
    ]


# --- cancel --------------------------------------------------------------------------------------


def test_cancel_answers_the_job_and_is_asked_again_when_throttled(api: ScriptedApi) -> None:
    api.script[("POST", "/v1/score-jobs/j1/cancel")] = [
        (429, {"message": "Too Many Requests"}, {"Retry-After": "0"}),
        (202, job(status="cancelled", partial=True)),
    ]
    cancelled = ScoreJobsClient(api.endpoint).cancel("j1")
    assert (cancelled.status, cancelled.partial) == ("cancelled", True)
    assert [(s.method, s.path, s.body) for s in api.seen] == [
        ("POST", "/v1/score-jobs/j1/cancel", None)
    ] * 2


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (409, "conflict", "job j1 is completed; only a queued or running job can be cancelled"),
        (404, "job_not_found", "no job with id 'j1'"),
    ],
)
def test_cancel_refusals_are_api_errors(
    api: ScriptedApi, status: int, code: str, message: str
) -> None:
    api.script[("POST", "/v1/score-jobs/j1/cancel")] = [
        (status, {"error": {"code": code, "message": message}})
    ]
    with pytest.raises(ApiError) as raised:
        ScoreJobsClient(api.endpoint).cancel("j1")
    assert (raised.value.status, raised.value.code, raised.value.message) == (
        status,
        code,
        message,
    )
    assert len(api.seen) == 1  # a refusal is final: not asked again
