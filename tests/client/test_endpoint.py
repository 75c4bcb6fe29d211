"""The client's endpoint: a URL without its scheme is refused before anything is sent,
and an endpoint that is not the API (the local stack's AWS emulator) is named as such."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from rag_eval.cli.main import main


@pytest.fixture(scope="module")
def moto_port() -> Iterator[int]:
    """GIVEN the AWS emulator a local stack runs, on a port of its own."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield server.get_host_and_port()[1]
    server.stop()


@pytest.mark.parametrize("endpoint", ["localhost:3000/v1", "127.0.0.1:3000", "ftp://host/v1"])
def test_an_endpoint_without_its_scheme_is_refused_saying_what_it_should_look_like(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN AWS credentials in the shell (a non-local endpoint would be signed with them)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")

    # WHEN a command is pointed at an endpoint that is no http(s) URL
    code = main(["status", "abc", "--endpoint", endpoint])

    # THEN it is one line naming the flag and the URL's shape, and no traceback
    assert code == 2
    assert capsys.readouterr().err == (
        f"error: --endpoint: {endpoint!r} is not the API's URL: give its scheme, host and "
        "stage, e.g. http://127.0.0.1:3000/v1 for the local stack, or the deployed stack's "
        "ApiUrl output (https://<api-id>.execute-api.<region>.amazonaws.com/v1)\n"
    )


def test_the_environments_endpoint_is_named_as_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_EVAL_ENDPOINT", "127.0.0.1:3000/v1")

    assert main(["list"]) == 2
    assert capsys.readouterr().err.startswith("error: RAG_EVAL_ENDPOINT: '127.0.0.1:3000/v1'")


@pytest.mark.parametrize("command", [["status", "abc"], ["list"], ["cancel", "abc"]])
def test_the_aws_emulators_port_is_recognised_and_the_apis_port_suggested(
    moto_port: int, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN the client is pointed at the emulator's port instead of the API's
    code = main([*command, "--endpoint", f"http://127.0.0.1:{moto_port}/v1"])

    # THEN it says what answered and where the API is, not S3's XML
    err = capsys.readouterr().err
    assert code == 4
    assert err.startswith(f"error: http://127.0.0.1:{moto_port}/v1/")
    assert "did not answer as the rag-eval API" in err
    assert f"--endpoint http://127.0.0.1:{moto_port - 1}/v1" in err
    assert "<?xml" not in err and "Traceback" not in err
