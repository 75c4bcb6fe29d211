"""What `sam local invoke`'s containers need from a running local stack.

A container reaches this machine at Docker's bridge gateway (usually 172.17.0.1), never at
127.0.0.1, which in a container is the container itself. So:

- the local stack's moto listens there (`rag-eval local start --moto-host ADDR`), and a judge
  that listens on loopback only is relayed there, on the same port (`JudgeRelay`);
- `sam_env_vars()` is the `--env-vars` file of `sam local invoke` (`rag-eval local env-vars`):
  for each function of the template, every variable the template declares (SAM sets no
  other), with the stack's resource names as moto has them, AWS_ENDPOINT_URL at moto and
  the judge's URL, both as a container reaches them;
- `next_sqs_event()` takes the next message off a queue and makes it the SQS event Lambda's
  event source would hand the worker (`rag-eval local sqs-event`).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import subprocess
import threading
import urllib.parse
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from rag_eval.local.environment import (
    PASSED_THROUGH,
    local_aws_client,
    stack_physical_ids,
)
from rag_eval.local.poller import sqs_record
from rag_eval.local.template import STACK_NAME, function_environment, load_template

logger = logging.getLogger(__name__)

# Where a container on Docker's default bridge reaches the machine that runs it.
BRIDGE_GATEWAY_FORMAT = "{{(index .IPAM.Config 0).Gateway}}"
# The queues a worker's event comes from, by the name `sqs-event --queue` takes.
QUEUES = {"jobs": "ScoreQueue", "shards": "ShardQueue"}


class NotReachableFromContainers(Exception):
    """A server the functions need listens where a container cannot reach it."""


class QueueEmpty(Exception):
    """No message arrived in the queue within the wait."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def docker_bridge_gateway() -> str | None:
    """The default bridge's gateway, as `docker network inspect` tells it; None without Docker."""
    try:
        done = subprocess.run(
            ["docker", "network", "inspect", "bridge", "--format", BRIDGE_GATEWAY_FORMAT],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    gateway = done.stdout.strip()
    return gateway if done.returncode == 0 and gateway else None


def _with_host(url: str, host: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = f"[{host}]" if ":" in host else host
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _listens(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


def _port(url: str) -> int:
    parts = urllib.parse.urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def stack_parameters(cloudformation_client: Any, stack_name: str = STACK_NAME) -> dict[str, str]:
    """The template parameters the running stack was deployed with (defaults included)."""
    stack = cloudformation_client.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


def template_functions() -> list[str]:
    return [
        logical_id
        for logical_id, resource in load_template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    ]


def sam_env_vars(
    moto_url: str,
    *,
    container_host: str | None = None,
    judge_url: str | None = None,
    stack_name: str = STACK_NAME,
    shell: Mapping[str, str] | None = None,
) -> dict[str, dict[str, str]]:
    """`sam local invoke --env-vars` for every function of the stack running at moto_url.

    The judge: judge_url, else the shell's OPENAI_BASE_URL, else the stack's OpenAIBaseUrl.
    The shell's other settings the local stack passes through (RAGAS_*) override the
    template's, as for `rag-eval invoke`. Raises LocalStackNotFound when no stack answers,
    NotReachableFromContainers when moto or the judge listen where containers cannot reach.
    """
    from botocore.config import Config

    shell = os.environ if shell is None else shell
    quick = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10)
    cloudformation = local_aws_client("cloudformation", moto_url, quick)
    physical_ids = stack_physical_ids(cloudformation, stack_name)
    parameters = stack_parameters(cloudformation, stack_name)

    host = urllib.parse.urlsplit(moto_url).hostname or ""
    if container_host is None:
        container_host = docker_bridge_gateway() if is_loopback(host) else host
    if not container_host:
        raise NotReachableFromContainers(
            "cannot tell where containers reach this machine (no Docker answers `docker network "
            "inspect bridge`): give --container-host, e.g. 172.17.0.1"
        )
    endpoint = _container_url(moto_url, container_host)
    if not _listens(container_host, _port(endpoint)):
        raise NotReachableFromContainers(
            f"moto at {moto_url} does not listen on {container_host}, where containers reach "
            f"this machine: start the local stack with --moto-host {container_host}"
        )

    judge = judge_url if judge_url is not None else shell.get("OPENAI_BASE_URL", "")
    judge = judge or parameters.get("OpenAIBaseUrl", "")
    if judge:
        judge = _container_url(judge, container_host)
        judge_host = urllib.parse.urlsplit(judge).hostname or ""
        if judge_host == container_host and not _listens(judge_host, _port(judge)):
            raise NotReachableFromContainers(
                f"the judge {judge} is not reachable from containers: it listens on loopback "
                f"only. The local stack relays it when it knows it (--parameter "
                f"OpenAIBaseUrl=URL, or OPENAI_BASE_URL in its shell) and moto listens on "
                f"{container_host} (--moto-host); or let the judge listen on {container_host}"
            )

    overrides = {name: value for name, value in shell.items() if PASSED_THROUGH.match(name)}
    overrides |= {"OPENAI_BASE_URL": judge, "AWS_ENDPOINT_URL": endpoint}
    env_vars: dict[str, dict[str, str]] = {}
    for logical_id in template_functions():
        declared = function_environment(logical_id, physical_ids, parameters)
        if "AWS_ENDPOINT_URL" not in declared:
            raise ValueError(
                f"{logical_id} declares no AWS_ENDPOINT_URL in template.yaml: `sam local "
                "invoke` would drop it and the function would call AWS itself"
            )
        # Only what the template declares: `sam local invoke` ignores any other name.
        env_vars[logical_id] = declared | {
            name: value for name, value in overrides.items() if name in declared
        }
    return env_vars


def _container_url(url: str, container_host: str) -> str:
    """The URL as a container reaches it: a loopback host becomes the container host."""
    host = urllib.parse.urlsplit(url).hostname or ""
    return _with_host(url, container_host) if is_loopback(host) else url


def next_sqs_event(
    moto_url: str,
    queue: str = "jobs",
    *,
    wait_seconds: int = 5,
    stack_name: str = STACK_NAME,
) -> dict[str, Any]:
    """The next message of the stack's queue as the worker's SQS event, taken off the queue.

    Lambda's event source deletes a message once the worker succeeds; here it is deleted
    when handed out, so that no later call hands it out again (rerun a failed invocation
    with the same event). Raises LocalStackNotFound, QueueEmpty.
    """
    from botocore.config import Config

    quick = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=wait_seconds + 10)
    cloudformation = local_aws_client("cloudformation", moto_url, quick)
    queue_url = stack_physical_ids(cloudformation, stack_name)[QUEUES[queue]]
    sqs = local_aws_client("sqs", moto_url, quick)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    messages = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=1,
        WaitTimeSeconds=wait_seconds,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    if not messages:
        raise QueueEmpty(
            f"no message in the {queue} queue ({QUEUES[queue]}) within {wait_seconds} s"
        )
    [message] = messages
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return {"Records": [sqs_record(message, queue_arn)]}


class JudgeRelay:
    """Connections to host:port (where containers reach this machine) forwarded to a judge
    listening on loopback at the same port."""

    def __init__(self, host: str, port: int, target_host: str = "127.0.0.1") -> None:
        self.host, self.port, self._target = host, port, (target_host, port)
        self._server = socket.create_server((host, port))  # OSError when the port is taken
        self._thread = threading.Thread(target=self._serve, name="judge-relay", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self._target, timeout=10)
            except OSError:
                logger.warning("the judge at %s:%d does not answer", *self._target)
                client.close()
                continue
            upstream.settimeout(None)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        with suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        with suppress(OSError):
            source.close()


def relay_judge(judge_url: str, host: str) -> JudgeRelay | None:
    """A relay for a judge on loopback, on host at the judge's port; None when the judge
    needs none (not on loopback) or listens on host already."""
    parts = urllib.parse.urlsplit(judge_url)
    if not judge_url or not is_loopback(parts.hostname or "") or is_loopback(host):
        return None
    try:
        return JudgeRelay(host, _port(judge_url), parts.hostname or "127.0.0.1")
    except OSError as exc:
        if _listens(host, _port(judge_url)):
            return None  # the judge listens on every address: containers reach it already
        raise OSError(f"cannot relay the judge {judge_url} on {host}: {exc.strerror}") from None
