"""The whole stack on this machine: `rag-eval local start`, the tests, the bench and the demo.

moto in server mode plays S3, SQS and DynamoDB with the resources of template.yaml; an HTTP
front (`front.py`) serves the template's API routes by calling the real handlers with API
Gateway proxy events; a poller (`poller.py`) plays the worker's SQS event source. The
handlers run unchanged in this process and read their settings from `os.environ`, set here
from the template exactly as Lambda would set them.

One LocalStack per process: the handlers' settings are process-wide and moto's state is
global to the process.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag_eval.local.template import (
    DEFAULT_REGION,
    STACK_NAME,
    TEMPLATE_PATH,
    api_routes,
    deploy,
    expand_template,
    function_environment,
    load_template,
)

logger = logging.getLogger(__name__)

REPO_ROOT = TEMPLATE_PATH.parent
LOCAL_ACCOUNT_ID = "123456789012"  # moto's account
# moto accepts any credentials; these keep boto3 from looking for real ones.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# Settings a user gives the local stack from their own shell (the judge), over the template's.
_PASSED_THROUGH = re.compile(r"^(OPENAI_BASE_URL|OPENAI_API_KEY|RAGAS_[A-Z_]+)$")
_HANDLER_CMD = re.compile(r'^CMD\s+\[\s*"([\w.]+)"', re.MULTILINE)
_running_stack = threading.Lock()


@dataclass(frozen=True)
class FunctionCode:
    """Where a function's handler lives in this repository, and its Lambda limits."""

    logical_id: str
    path: Path  # the handler's module file
    handler: str  # the handler's name in that module
    timeout_seconds: int
    memory_mb: int


def function_code(logical_id: str) -> FunctionCode:
    """A zip function: CodeUri + Handler. An image function: the Dockerfile's CMD, its module
    copied from the Dockerfile's folder (functions/worker/Dockerfile -> functions/worker/app.py).
    """
    template = load_template()
    resource = template["Resources"].get(logical_id)
    if resource is None or resource["Type"] != "AWS::Serverless::Function":
        raise ValueError(f"{logical_id} is not a function of {TEMPLATE_PATH.name}")
    properties = resource["Properties"]
    globals_ = template.get("Globals", {}).get("Function", {})
    if properties.get("PackageType") == "Image":
        dockerfile = REPO_ROOT / resource["Metadata"]["Dockerfile"]
        match = _HANDLER_CMD.search(dockerfile.read_text(encoding="utf-8"))
        if match is None:
            raise ValueError(f'{dockerfile}: no CMD ["module.handler"] to run locally')
        folder, handler = dockerfile.parent, match.group(1)
    else:
        folder, handler = REPO_ROOT / properties["CodeUri"], properties["Handler"]
    module, _, name = handler.rpartition(".")
    return FunctionCode(
        logical_id=logical_id,
        path=folder / f"{module.replace('.', '/')}.py",
        handler=name,
        timeout_seconds=int(properties.get("Timeout", globals_.get("Timeout", 3))),
        memory_mb=int(properties.get("MemorySize", globals_.get("MemorySize", 128))),
    )


def resolve_function(name: str) -> str:
    """`api`, `ApiFunction`, `apifunction` -> `ApiFunction` (the template's logical id)."""
    functions = [
        logical_id
        for logical_id, resource in load_template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    for logical_id in functions:
        if name.lower() in (logical_id.lower(), logical_id.lower().removesuffix("function")):
            return logical_id
    raise ValueError(f"unknown function {name!r}; the template has {', '.join(functions)}")


@dataclass
class LambdaContext:
    """The context object Lambda passes to a handler (what Powertools reads of it)."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.invoked_function_arn = self.invoked_function_arn or (
            f"arn:aws:lambda:{DEFAULT_REGION}:{LOCAL_ACCOUNT_ID}:function:{self.function_name}"
        )
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalFunction:
    """A function of the template run in this process, as Lambda runs it.

    Each execution environment is a fresh copy of the handler's module (its own resolver,
    caches and cold start) serving one invocation at a time; copies are made on demand, up
    to `max_environments`, and reused warm.
    """

    def __init__(
        self, code: FunctionCode, function_name: str = "", max_environments: int = 10
    ) -> None:
        self.code = code
        self.function_name = function_name or code.logical_id
        self._max = max_environments
        self._idle: list[Callable[[dict, Any], Any]] = []
        self._made = 0
        self._available = threading.Condition()

    def invoke(self, event: dict[str, Any]) -> Any:
        context = LambdaContext(self.function_name, self.code.memory_mb, self.code.timeout_seconds)
        with self._environment() as handler:
            started = time.monotonic()
            result = handler(event, context)
        took = time.monotonic() - started
        if took > self.code.timeout_seconds:
            logger.warning(
                "%s ran %.1f s, over its Timeout of %d s: Lambda would have stopped it",
                self.code.logical_id,
                took,
                self.code.timeout_seconds,
            )
        return result

    @contextmanager
    def _environment(self) -> Iterator[Callable[[dict, Any], Any]]:
        with self._available:
            while not self._idle and self._made >= self._max:
                self._available.wait()
            if self._idle:
                handler = self._idle.pop()
            else:
                self._made += 1
                handler = None
        if handler is None:
            try:
                handler = self._load()
            except BaseException:
                with self._available:
                    self._made -= 1
                    self._available.notify()
                raise
        try:
            yield handler
        finally:
            with self._available:
                self._idle.append(handler)
                self._available.notify()

    def _load(self) -> Callable[[dict, Any], Any]:
        import importlib.util

        # A unique module name: every copy has its own module globals (a cold start).
        name = f"local_{self.code.logical_id}_{uuid.uuid4().hex[:8]}"
        spec = importlib.util.spec_from_file_location(name, self.code.path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {self.code.path}")
        module = importlib.util.module_from_spec(spec)
        started = time.monotonic()
        spec.loader.exec_module(module)
        logger.debug(
            "%s: new execution environment (init %.0f ms)",
            self.code.logical_id,
            (time.monotonic() - started) * 1000,
        )
        return getattr(module, self.code.handler)


@dataclass(frozen=True)
class QueueEventSource:
    """An SQS event source mapping of the template (what the poller plays)."""

    function: str  # logical id of the function it invokes
    queue: str  # logical id of the queue
    batch_size: int
    report_batch_item_failures: bool


def queue_event_sources(template: Mapping[str, Any]) -> list[QueueEventSource]:
    """The SQS event source mappings of the expanded template."""
    sources = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        properties = resource["Properties"]
        source_arn = properties.get("EventSourceArn", {})
        if not isinstance(source_arn, dict) or "Fn::GetAtt" not in source_arn:
            continue
        queue = source_arn["Fn::GetAtt"][0]
        if template["Resources"][queue]["Type"] != "AWS::SQS::Queue":
            continue
        sources.append(
            QueueEventSource(
                function=properties["FunctionName"]["Ref"],
                queue=queue,
                batch_size=int(properties.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures"
                in properties.get("FunctionResponseTypes", []),
            )
        )
    return sources


class LocalStackNotFound(Exception):
    """No local stack answers at the given moto URL."""


def stack_physical_ids(cloudformation_client: Any, stack_name: str = STACK_NAME) -> dict[str, str]:
    """{logical id: physical id} of a stack already deployed (by a running local stack)."""
    from botocore.exceptions import BotoCoreError, ClientError

    endpoint = cloudformation_client.meta.endpoint_url
    try:
        resources = cloudformation_client.describe_stack_resources(StackName=stack_name)
    except (BotoCoreError, ClientError) as exc:
        raise LocalStackNotFound(
            f"no stack {stack_name} at {endpoint} ({exc}); start one with `rag-eval local start`"
        ) from None
    return {
        resource["LogicalResourceId"]: resource["PhysicalResourceId"]
        for resource in resources["StackResources"]
        if "LogicalResourceId" in resource
    }


def handler_environment(
    moto_url: str,
    physical_ids: Mapping[str, str],
    functions: list[str],
    parameters: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """What the handlers find in os.environ locally: the functions' template environment
    (they share the names), the user's judge settings over it, moto as every AWS endpoint."""
    environment: dict[str, str] = {}
    for logical_id in functions:
        for name, value in function_environment(logical_id, physical_ids, parameters).items():
            if environment.get(name, value) != value:
                raise ValueError(f"functions disagree on {name}; one process cannot run both")
            environment[name] = value
    environment.update(
        {name: value for name, value in os.environ.items() if _PASSED_THROUGH.match(name)}
    )
    environment.update(
        {
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_DEFAULT_REGION": DEFAULT_REGION,
            "AWS_REGION": DEFAULT_REGION,
            "POWERTOOLS_TRACE_DISABLED": "true",
            **LOCAL_CREDENTIALS,
        }
    )
    environment.update(overrides or {})
    return environment


def _check_free(host: str, port: int, option: str) -> None:
    import socket

    if port == 0:
        return
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(
                f"{host}:{port} is not free ({exc.strerror}): choose another {option}"
            ) from None


def _fresh_aws_clients() -> None:
    """rag_eval.aws caches its clients; they take the endpoint when made."""
    from rag_eval.aws import aws_client

    aws_client.cache_clear()


def _warm_aws_clients() -> None:
    # boto3's default session is not safe to build clients from several threads at once;
    # on Lambda one invocation runs at a time, here the front and the poller run together.
    from rag_eval.aws import aws_client

    for service in ("dynamodb", "sqs", "s3"):
        aws_client(service)


class LocalStack:
    """The stack on loopback, as a context manager.

        with LocalStack(port=0, visibility_timeout=30) as stack:
            stack.endpoint   # http://127.0.0.1:<port>/v1
            stack.moto_url   # http://127.0.0.1:<moto port> (AWS_ENDPOINT_URL)
            stack.bucket     # the artifacts bucket

    `environment` overrides the handlers' settings (e.g. OPENAI_BASE_URL of a test judge);
    otherwise the judge settings are taken from this process's environment.
    `visibility_timeout` overrides the score queue's (5400 s in the template) so that a failed
    job is redelivered within seconds. os.environ is restored by stop().
    """

    def __init__(
        self,
        port: int = 3000,
        *,
        moto_port: int = 0,
        host: str = "127.0.0.1",
        visibility_timeout: int | None = None,
        environment: Mapping[str, str] | None = None,
        parameters: Mapping[str, str] | None = None,
        worker_concurrency: int = 1,
        wait_time_seconds: int = 1,
    ) -> None:
        self._port = port
        self._moto_port = moto_port
        self._host = host
        self._visibility_timeout = visibility_timeout
        self._overrides = dict(environment or {})
        self._parameters = dict(parameters or {})
        self._worker_concurrency = worker_concurrency
        self._wait_time_seconds = wait_time_seconds
        self._moto: Any = None
        self._front: Any = None
        self._pollers: list[Any] = []
        self._saved_environment: dict[str, str | None] = {}
        self._running = False
        self.physical_ids: dict[str, str] = {}
        self.environment: dict[str, str] = {}
        self.moto_url = ""
        self.endpoint = ""

    @property
    def bucket(self) -> str:
        return self.physical_ids["ArtifactsBucket"]

    @property
    def table(self) -> str:
        return self.physical_ids["ScoreJobs"]

    @property
    def queue_url(self) -> str:
        return self.physical_ids["ScoreQueue"]

    @property
    def dlq_url(self) -> str:
        return self.physical_ids["ScoreDLQ"]

    def client(self, service: str) -> Any:
        """A boto3 client of the local AWS (moto)."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name=DEFAULT_REGION,
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def client_environment(self) -> dict[str, str]:
        """What a client in another shell needs: the API, and moto as its AWS."""
        return {
            "RAG_EVAL_ENDPOINT": self.endpoint,
            "AWS_ENDPOINT_URL": self.moto_url,
            **LOCAL_CREDENTIALS,
            "AWS_DEFAULT_REGION": DEFAULT_REGION,
        }

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if not _running_stack.acquire(blocking=False):
            raise RuntimeError("a LocalStack is already running in this process")
        self._running = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        from moto.server import ThreadedMotoServer

        from rag_eval.local.front import ApiFront
        from rag_eval.local.poller import QueuePoller

        # moto's server binds in its own thread and would wait forever on a port in use.
        _check_free(self._host, self._moto_port, "--moto-port")
        _check_free(self._host, self._port, "--port")
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request
        self._moto = ThreadedMotoServer(ip_address=self._host, port=self._moto_port, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"

        # template.deploy() makes clients of its own from the environment's credentials.
        self._set_environment({**LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": DEFAULT_REGION})
        self.physical_ids = deploy(self.client("cloudformation"), parameters=self._parameters)
        template = expand_template(self._parameters)
        sources = queue_event_sources(template)
        routes = api_routes()
        names = list(dict.fromkeys([r.function for r in routes] + [s.function for s in sources]))
        self.environment = handler_environment(
            self.moto_url, self.physical_ids, names, self._parameters, self._overrides
        )
        self._set_environment(self.environment)
        _fresh_aws_clients()
        _warm_aws_clients()
        functions = {
            name: LocalFunction(function_code(name), self.physical_ids.get(name, name))
            for name in names
        }

        sqs = self.client("sqs")
        for source in sources:
            queue_url = self.physical_ids[source.queue]
            if self._visibility_timeout is not None:
                sqs.set_queue_attributes(
                    QueueUrl=queue_url,
                    Attributes={"VisibilityTimeout": str(self._visibility_timeout)},
                )
                logger.info(
                    "%s: visibility timeout set to %d s for local use (the template's: %s s); "
                    "a failed delivery is retried after it",
                    source.queue,
                    self._visibility_timeout,
                    template["Resources"][source.queue]["Properties"].get("VisibilityTimeout"),
                )
            poller = QueuePoller(
                sqs,
                queue_url,
                source,
                functions[source.function],
                wait_time_seconds=self._wait_time_seconds,
                concurrency=self._worker_concurrency,
            )
            poller.start()
            self._pollers.append(poller)

        self._front = ApiFront(routes, functions, host=self._host, port=self._port)
        self._front.start()
        self.endpoint = self._front.endpoint
        logger.info("local stack up: API %s, AWS (moto) %s", self.endpoint, self.moto_url)

    def _set_environment(self, values: Mapping[str, str]) -> None:
        for name in values:
            self._saved_environment.setdefault(name, os.environ.get(name))
        os.environ.update(values)

    def stop(self) -> None:
        """Stop serving and polling, drop moto's state, give os.environ back. Idempotent."""
        for poller in self._pollers:
            poller.stop()
        self._pollers = []
        if self._front is not None:
            self._front.stop()
            self._front = None
        if self._moto is not None:
            self._reset_moto()
            self._moto.stop()
            self._moto = None
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment = {}
        _fresh_aws_clients()
        if self._running:
            self._running = False
            _running_stack.release()

    def _reset_moto(self) -> None:
        # moto's backends are global to the process: a later stack would find this one's.
        import urllib.request

        try:
            urllib.request.urlopen(
                urllib.request.Request(f"{self.moto_url}/moto-api/reset", method="POST"),
                timeout=5,
            ).close()
        except OSError:
            logger.warning("could not reset moto's state at %s", self.moto_url)


def invoke(
    function: str,
    event: dict[str, Any],
    moto_url: str,
    *,
    stack_name: str = STACK_NAME,
    parameters: Mapping[str, str] | None = None,
) -> Any:
    """Run one function's handler once against a running local stack (`sam local invoke`).

    The stack's resources are found through moto's CloudFormation; the handler gets the
    function's template environment, as in `LocalStack`. Sets os.environ of this process.
    """
    import boto3
    from botocore.config import Config

    logical_id = resolve_function(function)
    cloudformation = boto3.client(
        "cloudformation",
        endpoint_url=moto_url,
        region_name=DEFAULT_REGION,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        # A stack that is not running should say so at once, not after retries.
        config=Config(retries={"max_attempts": 1}, connect_timeout=2),
    )
    physical_ids = stack_physical_ids(cloudformation, stack_name)
    os.environ.update(handler_environment(moto_url, physical_ids, [logical_id], parameters))
    _fresh_aws_clients()
    local_function = LocalFunction(
        function_code(logical_id), physical_ids.get(logical_id, logical_id), max_environments=1
    )
    return local_function.invoke(event)
