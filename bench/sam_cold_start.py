"""Cold starts in the real packages: `sam local invoke` of the built functions (the worker's
container image, the zip functions in the python3.12 image with the layer) against the local
stack, with the scripted judge (BENCHMARKS.md, section 12).

    make sam-build-image && .venv/bin/python -m bench.sam_cold_start --runs 3

Needs a Docker engine (`make docker-engine`) and the build of `make sam-build-image`; run on
demand, not by the tests. What it measures, per function:

- `sam local invoke`, each run a new container: the whole command's time, and its REPORT
  line. The runtime interface emulator prints no real Init Duration (a fraction of a ms)
  and prints the configured memory as Max Memory Used: its Duration of a first invocation
  includes the runtime's init (python, `import app`), as the warm one below shows.
- `sam local start-lambda --warm-containers LAZY`: the same event twice in one container,
  cold then warm; their difference is the init and the first call's one-off costs (clients,
  lazy imports: ragas for the worker). Then the runtime process's peak RSS (VmHWM of
  `bootstrap.py` in the container), in place of the emulator's Max Memory Used.
- Init as Lambda would report it: `python3.12 -c "import app"` in a fresh container of the
  function's image, the whole process's time.

The worker scores one sample per job with four model-free metrics and faithfulness through
the judge; every job's texts are unique, so the verdict cache answers nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from bench.common import ROOT, JudgeProcess, samples, table

BUILD = ROOT / ".aws-sam" / "build-image"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
REGION = "us-east-1"
FUNCTIONS = ("ApiFunction", "WorkerFunction", "ListFunction")
METRICS = ["bleu_score", "rouge_score", "chrf_score", "non_llm_string_similarity", "faithfulness"]
_REPORT = re.compile(
    r"REPORT RequestId: \S+\s+(?:Init Duration: (?P<init>[\d.]+) ms\s+)?"
    r"Duration: (?P<duration>[\d.]+) ms.*?Max Memory Used: (?P<memory>\d+) MB"
)
# Lambda's module search path for a zip function (the layer under /opt).
ZIP_PYTHONPATH = "/var/task:/opt/python/lib/python3.12/site-packages:/opt/python:/var/runtime"


def docker(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()


def sam_environment() -> dict[str, str]:
    """This environment without the developer's AWS, judge or stack settings, for SAM."""
    return {
        name: value
        for name, value in os.environ.items()
        if not re.match(r"^(OPENAI_|RAGAS_|AWS_|RAG_EVAL_)", name)
    } | {"SAM_CLI_TELEMETRY": "0"}


def report(text: str) -> dict[str, float]:
    found = _REPORT.search(text)
    if found is None:
        raise RuntimeError(f"no REPORT line in:\n{text[-2000:]}")
    return {name: float(value) for name, value in found.groupdict().items() if value is not None}


class Rig:
    """The scripted judge, the local stack started for containers, its env-vars file."""

    def __init__(self, scratch: Path) -> None:
        from rag_eval.local.containers import docker_bridge_gateway, sam_env_vars
        from rag_eval.local.stack import LocalStack

        gateway = docker_bridge_gateway()
        if gateway is None:
            raise SystemExit("no Docker engine answers: make docker-engine")
        if not (BUILD / "template.yaml").is_file():
            raise SystemExit(f"no build in {BUILD}: make sam-build-image")
        self.scratch = scratch
        self.judge = JudgeProcess(latency=0.0, cap=None)
        self.stack = LocalStack(
            port=0,
            moto_host=gateway,
            workers=False,
            parameters={"OpenAIBaseUrl": self.judge.base_url},
        )
        self.stack.start()
        self.env_file = scratch / "env.json"
        self.env_file.write_text(json.dumps(sam_env_vars(self.stack.moto_url)), encoding="utf-8")
        self.environment = json.loads(self.env_file.read_text(encoding="utf-8"))
        self.jobs = 0

    def close(self) -> None:
        self.stack.stop()
        self.judge.__exit__()

    def event(self, function: str) -> Path:
        """The function's event: a new job of unique texts; the next job message; a listing."""
        path = self.scratch / f"{function}-{uuid.uuid4().hex[:8]}.json"
        if function == "ApiFunction":
            submit = json.loads((ROOT / "events" / "api-submit.json").read_text("utf-8"))
            [sample] = samples(1, unique=uuid.uuid4().hex[:8])
            fields = ("question", "answer", "contexts", "ground_truth")
            submit["body"] = json.dumps(
                {name: sample[name] for name in fields} | {"metrics": METRICS}
            )
            path.write_text(json.dumps(submit), encoding="utf-8")
            self.jobs += 1
        elif function == "WorkerFunction":
            from rag_eval.local.containers import next_sqs_event

            path.write_text(json.dumps(next_sqs_event(self.stack.moto_url)), encoding="utf-8")
        else:
            return ROOT / "events" / "list-jobs.json"
        return path


def sam_local_invoke(rig: Rig, function: str) -> dict[str, float]:
    """One `sam local invoke` (a new container): its time, and its REPORT line's figures."""
    event = rig.event(function)
    command = [str(SAM), "local", "invoke", function, "-t", str(BUILD / "template.yaml")]
    command += ["-e", str(event), "--env-vars", str(rig.env_file), "--skip-pull-image"]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--region", REGION],
        cwd=ROOT,
        env=sam_environment(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    took = time.perf_counter() - started
    if done.returncode != 0 or '"batchItemFailures": [{' in done.stdout:
        raise RuntimeError(f"{function} failed:\n{done.stdout[-1000:]}\n{done.stderr[-3000:]}")
    return report(done.stderr) | {"command": took}


class WarmLambdas:
    """`sam local start-lambda --warm-containers LAZY`: one container per function, reused."""

    def __init__(self, rig: Rig) -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log = (rig.scratch / "start-lambda.log").open("w+", encoding="utf-8")
        command = [str(SAM), "local", "start-lambda", "-t", str(BUILD / "template.yaml")]
        command += ["--env-vars", str(rig.env_file), "--skip-pull-image", "--region", REGION]
        command += ["--warm-containers", "LAZY", "--port", str(self.port)]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=sam_environment(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 120
        while "Running on" not in Path(self.log.name).read_text(encoding="utf-8"):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(Path(self.log.name).read_text(encoding="utf-8")[-2000:])
            time.sleep(0.5)

    def invoke(self, function: str, event: Path) -> dict[str, float]:
        reports = len(_REPORT.findall(Path(self.log.name).read_text(encoding="utf-8")))
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/2015-03-31/functions/{function}/invocations",
            data=event.read_bytes(),
        )
        with urllib.request.urlopen(request, timeout=900) as answer:
            answer.read()
        deadline = time.monotonic() + 10
        while True:  # the container's log reaches SAM's output a moment later
            found = list(_REPORT.finditer(Path(self.log.name).read_text(encoding="utf-8")))
            if len(found) > reports:
                values = found[reports].groupdict()
                return {name: float(v) for name, v in values.items() if v is not None}
            if time.monotonic() > deadline:
                raise RuntimeError(f"no REPORT line for {function}")
            time.sleep(0.2)

    def peak_rss_mb(self, function: str) -> float:
        """VmHWM of the runtime process (bootstrap.py) in the function's warm container."""
        for container in docker("ps", "-q").split():
            details = json.loads(docker("inspect", container))[0]
            image = details["Config"]["Image"]
            mounts = [mount["Source"] for mount in details.get("Mounts", [])]
            if (function == "WorkerFunction" and image.startswith("workerfunction")) or any(
                source.rstrip("/").endswith(f"/{function}") for source in mounts
            ):
                status = docker(
                    "exec",
                    container,
                    "sh",
                    "-c",
                    "for p in /proc/[0-9]*; do grep -q bootstrap.py $p/cmdline 2>/dev/null "
                    "&& grep VmHWM $p/status; done",
                )
                return int(status.split()[1]) / 1024
        raise RuntimeError(f"no warm container of {function}")

    def close(self) -> None:
        self.process.terminate()  # SAM stops its warm containers on SIGTERM
        self.process.wait(timeout=60)
        self.log.close()


def import_seconds(rig: Rig, function: str) -> float:
    """`python3.12 -c "import app"` in a fresh container of the function's image, timed
    inside it (no container start): Lambda's Init phase for this handler."""
    code = 'start=$(date +%s%N); python3.12 -c "import app"; echo $(( $(date +%s%N) - start ))'
    environment = rig.environment[function] | {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}
    env_args = [arg for name, value in environment.items() for arg in ("-e", f"{name}={value}")]
    if function == "WorkerFunction":
        template = (BUILD / "template.yaml").read_text(encoding="utf-8")
        found = re.search(r"^\s+ImageUri: (workerfunction:\S+)$", template, re.MULTILINE)
        assert found, "the built template names no worker image"
        image, mounts = found.group(1), []
    else:
        image = next(
            line.split()[0] + ":" + line.split()[1]
            for line in docker(
                "images", "samcli/lambda-python", "--format", "{{.Repository}} {{.Tag}}"
            ).splitlines()
        )
        mounts = ["-v", f"{BUILD / function}:/var/task:ro", "-e", f"PYTHONPATH={ZIP_PYTHONPATH}"]
    nanoseconds = docker(
        "run",
        "--rm",
        "--network",
        "none",
        *mounts,
        *env_args,
        "--entrypoint",
        "sh",
        image,
        "-c",
        code,
    )
    return int(nanoseconds.splitlines()[-1]) / 1e9


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3, help="cold `sam local invoke`s per function")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        rig = Rig(Path(scratch))
        try:
            # SAM builds its images (the layer's, the worker's with the emulator) on first use.
            for function in FUNCTIONS:
                sam_local_invoke(rig, function)
            cold: dict[str, list[dict[str, float]]] = {function: [] for function in FUNCTIONS}
            for _ in range(args.runs):
                for function in FUNCTIONS:
                    cold[function].append(sam_local_invoke(rig, function))

            warm = WarmLambdas(rig)
            try:
                pairs = {}
                for function in FUNCTIONS:
                    first = warm.invoke(function, rig.event(function))
                    second = warm.invoke(function, rig.event(function))
                    pairs[function] = (first, second, warm.peak_rss_mb(function))
            finally:
                warm.close()
            imports = {
                f: median([import_seconds(rig, f) for _ in range(args.runs)]) for f in FUNCTIONS
            }
        finally:
            rig.close()

    print(f"\n`sam local invoke`, a new container each, median of {args.runs} (s; ms):\n")
    rows = []
    for function in FUNCTIONS:
        runs = cold[function]
        rows.append(
            [
                function,
                f"{median([r['command'] for r in runs]):.1f}",
                f"{median([r.get('init', 0.0) for r in runs]):.2f}",
                f"{median([r['duration'] for r in runs]):,.0f}",
                f"{median([r['memory'] for r in runs]):,.0f}",
            ]
        )
    print(
        table(
            [
                "function",
                "`sam local invoke` (s)",
                "REPORT Init Duration (ms)",
                "REPORT Duration (ms)",
                "REPORT Max Memory Used (MB)",
            ],
            rows,
        )
    )
    print(
        "\n`sam local start-lambda --warm-containers LAZY`: one container per function, the "
        "same kind of event twice:\n"
    )
    rows = []
    for function in FUNCTIONS:
        first, second, rss = pairs[function]
        rows.append(
            [
                function,
                f"{imports[function] * 1000:,.0f}",
                f"{first['duration']:,.0f}",
                f"{second['duration']:,.0f}",
                f"{first['duration'] - second['duration']:,.0f}",
                f"{rss:.0f}",
            ]
        )
    print(
        table(
            [
                "function",
                "init: `import app`, fresh container (ms)",
                "first invocation (ms)",
                "second, warm (ms)",
                "first - warm (ms)",
                "peak RSS of the runtime (MB)",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
