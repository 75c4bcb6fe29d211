"""Memory: peak RSS of the worker scoring N samples, in a fresh process per N.

    .venv/bin/python -m bench.memory --sizes 1 20 200 1000

What runs is the real worker handler, `functions/worker/app.py`, on the SQS event of a job
submitted through the API's service: the template is deployed into a moto server in this
process, the child process reaches it as its AWS (S3, DynamoDB) and the scripted judge, in a
process of its own and answering at once, as its OpenAI endpoint. Each child starts cold,
imports `app`, then what the worker imports on its first record (ragas, rag_eval.app.pipeline,
the ragas metrics), then handles the one-record event. Peak RSS is the child's high-water
mark (VmHWM; `getrusage().ru_maxrss` is the same but, in a child of a large process,
starts at the parent's size) after each step; the last one is what Lambda's "Max Memory
Used" reports for the invocation (the runtime client runs in the same process).

Metrics: the seed's four plus every model-free one. The judge has no latency: memory does
not depend on it (at most 2 x RAGAS_MAX_CONCURRENCY metric calls are in flight either way),
and the run is short. The child runs on this repository's virtual environment, which has
the worker image's pins (requirements/constraints.txt).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import ROOT, JudgeProcess, samples, table
from rag_eval.app.answers import Estimate

REGION = "us-east-1"
WORKER = "WorkerFunction"
CALLER = "arn:aws:iam::123456789012:user/bench"  # who submits the measured jobs
RESULT = "MEMORY_RESULT "
LIMIT_MB = 10240  # Lambda's largest memory size

# Runs in the child, from functions/worker: what Lambda's runtime does for one invocation.
CHILD = r"""
import json, resource, sys, time

def status_mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    return 0.0

def peak_mb():
    # VmHWM, the peak RSS of this process's own memory. ru_maxrss would be the same figure
    # but for one flaw: exec() keeps the peak of the memory it replaced, here the bench
    # process's (moto and all), so it starts at the parent's size.
    return max(status_mb("VmHWM"), 0.0)

def cpu_s():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

steps = []
clock = time.perf_counter()

def step(name):
    steps.append({"step": name, "peak_mb": peak_mb(), "rss_mb": status_mb("VmRSS"),
                  "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "cpu_s": cpu_s(),
                  "wall_s": time.perf_counter() - clock})

step("interpreter")
import app
step("import app")
import ragas, ragas.metrics.collections, rag_eval.app.pipeline, rag_eval.judges.openai_compatible
step("worker imports (ragas, rag_eval.app.pipeline)")


from rag_eval.local.lambda_context import LambdaContext

context = LambdaContext(
    sys.argv[2], memory_limit_in_mb=int(sys.argv[3]), timeout_seconds=900,
    aws_request_id="bench-memory", log_stream_name="bench",
)


with open(sys.argv[1], encoding="utf-8") as handle:
    event = json.load(handle)
result = app.lambda_handler(event, context)
step("handler returned (scored, run folder in S3)")
print("%(marker)s" + json.dumps({"result": result, "steps": steps}), flush=True)
"""


# The same for the API and list functions: import app, then serve `invocations` requests.
FUNCTION_CHILD = r"""
import json, sys, time

def status_mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0

clock = time.perf_counter()
import app
imported = status_mb("VmHWM"), time.perf_counter() - clock


from rag_eval.local.lambda_context import LambdaContext

context = LambdaContext(
    sys.argv[2], memory_limit_in_mb=256, timeout_seconds=29,
    aws_request_id="bench-memory", log_stream_name="bench",
)


with open(sys.argv[1], encoding="utf-8") as handle:
    event = json.load(handle)
statuses = [app.lambda_handler(event, context)["statusCode"] for _ in range(int(sys.argv[3]))]
print("%(marker)s" + json.dumps({"import": imported, "done": status_mb("VmHWM"),
                                   "statuses": sorted(set(statuses))}), flush=True)
"""
# Function -> (folder, event file) for the light functions' measurement.
LIGHT_FUNCTIONS = {
    "ApiFunction": ("api", "api-submit.json"),
    "ListFunction": ("list", "list-jobs.json"),
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WorkerRig:
    """moto with the template deployed, the zero-latency judge, and the API's service."""

    def __init__(self, judge: JudgeProcess) -> None:
        import boto3
        from moto.server import ThreadedMotoServer

        from rag_eval.adapters.aws.api_root import job_service
        from rag_eval.adapters.aws.clients import aws_client
        from rag_eval.domain.settings import Settings
        from rag_eval.local.deploy import deploy
        from rag_eval.local.template import function_environment

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.aws = {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
        os.environ.update(self.aws)
        aws_client.cache_clear()
        parameters = {"OpenAIBaseUrl": judge.base_url, "LogLevel": "WARNING"}
        self.ids = deploy(boto3.client("cloudformation"), parameters=parameters)
        self.environment = function_environment(WORKER, self.ids, parameters)
        settings = Settings.from_env(function_environment("ApiFunction", self.ids, parameters))
        self.service = job_service(settings)
        self.sqs = boto3.client("sqs")
        self.queue_url = self.ids["ScoreQueue"]
        self.queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]

    def submit(self, size: int, metrics: list[str], request_mb: float = 0) -> tuple[str, dict]:
        """Submit a job as the API does; its SQS message as the Lambda event."""
        submission = self.service.submit(
            {"samples": padded(size, request_mb), "metrics": metrics}, caller=CALLER
        )
        assert not isinstance(submission, Estimate)  # not a dry run
        job = submission.job
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=5,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            raise RuntimeError("the job's message is not in the score queue")
        message = messages[0]
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }
        return job.job_id, {"Records": [record]}

    def status(self, job_id: str):
        return self.service.get(job_id, caller=CALLER)

    def close(self) -> None:
        self._moto.stop()


def padded(size: int, request_mb: float) -> list[dict]:
    """`size` samples; with request_mb, each first context lengthened (its own sentences
    repeated, up to the API's 20,000 characters a context) so that the request body is
    about that large. The judge calls stay the same."""
    from rag_eval.domain.sample import MAX_TEXT_CHARS

    found = samples(size)
    if not request_mb:
        return found
    per_sample = request_mb * 1024 * 1024 / size
    for sample in found:
        room = int(per_sample - len(json.dumps(sample, ensure_ascii=False).encode("utf-8")))
        first = sample["contexts"][0]
        repeats = max(0, room // len(first.encode("utf-8")))
        repeats = min(repeats, MAX_TEXT_CHARS // (len(first) + 1) - 1)
        sample["contexts"][0] = " ".join([first] * (1 + repeats))
    return found


def run_child(rig: WorkerRig, event: dict, memory_mb: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        event_path = Path(scratch) / "event.json"
        event_path.write_text(json.dumps(event), encoding="utf-8")
        env = {
            **os.environ,
            **rig.environment,
            **rig.aws,
            "OPENAI_API_KEY": "bench",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "RAGAS_DO_NOT_TRACK": "true",
            "PYTHONPATH": str(ROOT),
            "HOME": scratch,  # ragas and nltk may write caches; Lambda's HOME is read-only
        }
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD % {"marker": RESULT},
                str(event_path),
                WORKER,
                str(memory_mb),
            ],
            cwd=ROOT / "functions" / "worker",
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
    lines = [line for line in child.stdout.splitlines() if line.startswith(RESULT)]
    if child.returncode != 0 or not lines:
        raise RuntimeError(
            f"the worker child failed (exit {child.returncode}):\n"
            f"{child.stdout[-3000:]}\n{child.stderr[-3000:]}"
        )
    return json.loads(lines[-1][len(RESULT) :])


def light_function_rows(rig: WorkerRig, invocations: int) -> list[list]:
    """Peak RSS of the API and list functions: import, then `invocations` warm requests."""
    from rag_eval.local.runtime import function_code
    from rag_eval.local.template import function_environment

    rows = []
    for function, (folder, event_file) in LIGHT_FUNCTIONS.items():
        env = {
            **os.environ,
            **function_environment(function, rig.ids),
            **rig.aws,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                FUNCTION_CHILD % {"marker": RESULT},
                str(ROOT / "events" / event_file),
                function,
                str(invocations),
            ],
            cwd=ROOT / "functions" / folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        lines = [line for line in child.stdout.splitlines() if line.startswith(RESULT)]
        if child.returncode != 0 or not lines:
            raise RuntimeError(
                f"{function} child failed:\n{child.stdout[-2000:]}{child.stderr[-2000:]}"
            )
        report = json.loads(lines[-1][len(RESULT) :])
        memory = function_code(function).memory_mb
        rows.append(
            [
                function,
                f"{report['import'][0]:.0f}",
                f"{report['done']:.0f}",
                f"{invocations} x {event_file} -> {report['statuses']}",
                f"{memory} MB",
            ]
        )
    return rows


def template_memory_mb() -> int:
    from rag_eval.local.runtime import function_code

    return function_code(WORKER).memory_mb


def main(argv: list[str] | None = None) -> None:
    from rag_eval.metrics import DEFAULT_METRICS, MODEL_FREE_METRICS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 20, 200, 1000])
    parser.add_argument(
        "--metrics", nargs="+", default=[*DEFAULT_METRICS, *MODEL_FREE_METRICS], help="per job"
    )
    parser.add_argument(
        "--largest-request-mb",
        type=float,
        default=4.8,
        help="one more job: the largest N, its contexts padded to a request this large "
        "(the API takes 5 MB); 0 = none",
    )
    parser.add_argument(
        "--requests", type=int, default=50, help="warm requests for the API and list functions"
    )
    args = parser.parse_args(argv)
    runs = [(size, 0.0) for size in args.sizes]
    if args.largest_request_mb:
        runs.append((max(args.sizes), args.largest_request_mb))
    memory_mb = template_memory_mb()
    rows: list[list] = []
    reports: dict = {}
    last: tuple[str, dict] = ("", {})
    with JudgeProcess(0.0, None) as judge:
        rig = WorkerRig(judge)
        try:
            for size, request_mb in runs:
                job_id, event = rig.submit(size, args.metrics, request_mb)
                report = run_child(rig, event, memory_mb)
                job = rig.status(job_id)
                if report["result"] != {"batchItemFailures": []} or job.status != "completed":
                    raise RuntimeError(f"N={size}: job {job.status}, handler {report['result']}")
                label = size
                if request_mb:
                    body = json.dumps({"samples": padded(size, request_mb)}, ensure_ascii=False)
                    label = f"{size} ({len(body.encode('utf-8')) / 1024 / 1024:.1f} MB request)"
                if not request_mb:
                    reports[size] = report
                last = (label, report)
                rows.append(_row(size, label, report, reports, job, len(args.metrics)))
                print(table(HEADER, rows[-1:]).splitlines()[-1], flush=True)
            light = light_function_rows(rig, args.requests)
        finally:
            rig.close()
    print()
    print(
        f"worker handler in a fresh process per N; metrics: {', '.join(args.metrics)}; "
        f"zero-latency judge; template MemorySize {memory_mb} MB"
    )
    print(table(HEADER, rows))
    print()
    print("the API and list functions, each in a fresh process (same moto, same template):")
    print(
        table(
            [
                "function",
                "peak RSS after import MB",
                "peak RSS after the requests MB",
                "requests -> status codes",
                "template MemorySize",
            ],
            light,
        )
    )
    print()
    print(f"the worker's cold process step by step (N={last[0]}):")
    print(
        table(
            ["step", "peak RSS MB", "RSS now MB", "CPU s (cumulative)", "wall s (cumulative)"],
            [
                [
                    s["step"],
                    f"{s['peak_mb']:.0f}",
                    f"{s['rss_mb']:.0f}",
                    f"{s['cpu_s']:.2f}",
                    f"{s['wall_s']:.2f}",
                ]
                for s in last[1]["steps"]
            ],
        )
    )


def _row(size: int, label, report: dict, reports: dict, job, metrics: int) -> list:
    imported, done = report["steps"][2], report["steps"][-1]
    smallest = min(reports)
    growth = "-"
    if size > smallest:
        base = reports[smallest]["steps"][-1]["peak_mb"]
        growth = f"{(done['peak_mb'] - base) / (size - smallest):.2f}"
    return [
        label,
        metrics,
        f"{imported['peak_mb']:.0f}",
        f"{done['peak_mb']:.0f}",
        f"{done['peak_mb'] - imported['peak_mb']:.0f}",
        growth,
        f"{imported['cpu_s']:.1f}",
        f"{done['cpu_s'] - imported['cpu_s']:.1f}",
        f"{done['wall_s'] - imported['wall_s']:.1f}",
        sum(sum(c.values()) for c in job.metric_failures.values()),
    ]


HEADER = [
    "N",
    "metrics",
    "peak RSS after imports MB",
    "peak RSS, job done MB",
    "scoring adds MB",
    "MB per extra sample",
    "import CPU s",
    "scoring CPU s",
    "handler wall s",
    "failed metric calls",
]

if __name__ == "__main__":
    main()
