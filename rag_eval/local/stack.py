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
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rag_eval.local.deploy import deploy
from rag_eval.local.environment import (
    LOCAL_CREDENTIALS,
    fresh_aws_clients,
    handler_environment,
    local_aws_client,
    running_stack_at,
    stack_physical_ids,
    warm_aws_clients,
)
from rag_eval.local.handler_output import HandlerLog, route_output
from rag_eval.local.poller import queue_event_sources
from rag_eval.local.runtime import (
    DEFAULT_MAX_ENVIRONMENTS,
    Isolation,
    LocalFunction,
    function_code,
    resolve_function,
)
from rag_eval.local.state import LocalState, release_leases
from rag_eval.local.template import DEFAULT_REGION, STACK_NAME, api_routes, expand_template

logger = logging.getLogger(__name__)

_running_stack = threading.Lock()
# The JSON Lines record of the events the stack published, in its state folder.
EVENTS_FILE = "events.jsonl"


def _check_free(host: str, port: int, option: str) -> None:
    import socket

    if port == 0:
        return
    with socket.socket() as probe:
        # As the servers bind: a port a stopped stack left in TIME_WAIT is free to take.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            error = exc
        else:
            return
    running = running_stack_at(host, port)
    if running:
        raise OSError(
            f"a local stack is already running on this port ({running}): use it (the "
            "banner it printed has a client's settings), or stop it (Ctrl-C where it runs) "
            "before starting another"
        )
    raise OSError(
        f"{host}:{port} is taken by another program ({error.strerror}): choose another {option}"
    )


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
    `worker_concurrency` pollers run per SQS event source; with `worker_isolation="process"`
    the functions they invoke run each execution environment in a process of its own, as on
    Lambda (the API's functions always run in this process).
    `state_dir`: keep moto's state in that folder and start from what it holds
    (`rag_eval/local/state.py`; `restored` says whether it did); None: in memory only.
    `handler_log`: the handlers' JSON logs and EMF metrics go to that file, not to stdout
    (`rag_eval/local/handler_output.py`); None: to stdout, as on Lambda.
    `moto_host`: the address moto listens on (default: `host`). Docker's bridge gateway
    lets `sam local invoke`'s containers reach it, and a judge on loopback is then relayed
    there too, on its port (`rag_eval/local/containers.py`). `workers=False`: no pollers,
    the queues keep their messages (for `sam local invoke WorkerFunction`).
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
        worker_isolation: Isolation = "thread",
        wait_time_seconds: int = 1,
        state_dir: Path | None = None,
        handler_log: HandlerLog | None = None,
        moto_host: str | None = None,
        workers: bool = True,
    ) -> None:
        self._port = port
        self._moto_port = moto_port
        self._host = host
        self.moto_host = moto_host or host
        self.workers = workers
        self.judge_relay: Any = None
        self._visibility_timeout = visibility_timeout
        self._overrides = dict(environment or {})
        self._parameters = dict(parameters or {})
        self._worker_concurrency = worker_concurrency
        self._worker_isolation = worker_isolation
        self._wait_time_seconds = wait_time_seconds
        self._state = LocalState(state_dir) if state_dir is not None else None
        self.handler_log = handler_log
        self._unroute_output: Callable[[], None] | None = None
        self.restored = False
        self._moto: Any = None
        self._front: Any = None
        self._pollers: list[Any] = []
        self.functions: dict[str, LocalFunction] = {}
        self._saved_environment: dict[str, str | None] = {}
        self._running = False
        self.physical_ids: dict[str, str] = {}
        self.environment: dict[str, str] = {}
        self.moto_url = ""
        self.endpoint = ""

    @property
    def state_dir(self) -> Path | None:
        return self._state.directory if self._state else None

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
        return local_aws_client(service, self.moto_url)

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
        from rag_eval.local.containers import relay_judge
        from rag_eval.local.dynamodb_writes import serialize_writes
        from rag_eval.local.front import ApiFront
        from rag_eval.local.moto_server import MotoServer
        from rag_eval.local.poller import QueuePoller

        _check_free(self.moto_host, self._moto_port, "--moto-port")
        _check_free(self._host, self._port, "--port")
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request
        if self.handler_log is not None:
            # Before any handler's module loads: its logger keeps the stdout it finds then.
            self._unroute_output = route_output(self.handler_log)
        serialize_writes()
        self.restored = self._state is not None and self._state.restore()
        self._moto = MotoServer(
            self.moto_host, self._moto_port, wrap=self._state.wrap if self._state else None
        )
        self._moto.start()
        self.moto_url = self._moto.url

        # template.deploy() makes clients of its own from the environment's credentials.
        self._set_environment({**LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": DEFAULT_REGION})
        if self.restored:
            self.physical_ids = stack_physical_ids(self.client("cloudformation"))
            released = release_leases(self.client("dynamodb"), self.physical_ids["ScoreJobs"])
            logger.info(
                "local stack restored from %s (%d leases of the stopped stack given back)",
                self.state_dir,
                released,
            )
        else:
            self.physical_ids = deploy(self.client("cloudformation"), parameters=self._parameters)
        if self._state is not None:
            self._state.start_saving()
        template = expand_template(self._parameters)
        sources = queue_event_sources(template)
        routes = api_routes()
        names = list(dict.fromkeys([r.function for r in routes] + [s.function for s in sources]))
        # Every event the stack publishes is recorded beside its state (events.jsonl).
        recorded = (
            {"RAG_EVAL_EVENTS_FILE": str(self.state_dir / EVENTS_FILE)} if self.state_dir else {}
        )
        self.environment = handler_environment(
            self.moto_url, self.physical_ids, names, self._parameters, recorded | self._overrides
        )
        self._set_environment(self.environment)
        self.judge_relay = relay_judge(self.environment.get("OPENAI_BASE_URL", ""), self.moto_host)
        fresh_aws_clients()
        warm_aws_clients()
        # Made after _set_environment: a process environment inherits os.environ when spawned.
        concurrency: dict[str, int] = {}
        for source in sources:
            concurrency[source.function] = (
                concurrency.get(source.function, 0) + self._worker_concurrency
            )
        functions = self.functions = {
            name: LocalFunction(
                function_code(name),
                self.physical_ids.get(name, name),
                max_environments=max(DEFAULT_MAX_ENVIRONMENTS, concurrency.get(name, 0)),
                isolation=self._worker_isolation if name in concurrency else "thread",
                handler_log=self.handler_log,
            )
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
            if not self.workers:
                continue
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
        for function in self.functions.values():
            function.close()
        self.functions = {}
        if self.judge_relay is not None:
            self.judge_relay.close()
            self.judge_relay = None
        if self._moto is not None:
            if self._state is not None:
                self._state.stop_saving()  # before moto's state is dropped
            self._reset_moto()
            self._moto.stop()
            self._moto = None
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment = {}
        fresh_aws_clients()
        if self._unroute_output is not None:
            self._unroute_output()
            self._unroute_output = None
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
    from botocore.config import Config

    logical_id = resolve_function(function)
    # A stack that is not running should say so at once, not after retries.
    cloudformation = local_aws_client(
        "cloudformation", moto_url, Config(retries={"max_attempts": 1}, connect_timeout=2)
    )
    physical_ids = stack_physical_ids(cloudformation, stack_name)
    os.environ.update(handler_environment(moto_url, physical_ids, [logical_id], parameters))
    fresh_aws_clients()
    local_function = LocalFunction(
        function_code(logical_id), physical_ids.get(logical_id, logical_id), max_environments=1
    )
    return local_function.invoke(event)
