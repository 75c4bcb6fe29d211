"""How close scoring comes to the judge's limit: (a) local stack, (b) rag-eval score, (c) ragas.

A loopback scripted judge answers every call after a fixed latency and refuses more than
C calls in flight (429), like a provider's concurrency quota. The ideal time is
judge calls x latency / C; efficiency = ideal / actual.

    .venv/bin/python -m bench.efficiency --sizes 1 20 200 --latency 0.2 --cap 8 --cache on off

Every run scores samples of its own (`bench.common.samples` with a fresh tag): no two
samples, and no two runs, send the judge the same prompt, so the judge-verdict cache,
when on, has nothing to answer and the pipeline is what is measured (the cache hits
column says so; one exception: the advice's narrative prompt holds only the run's
aggregates, so two one-sample stack jobs of the same sample send the same one). `--cache
on off` runs (a) and (b) with the cache and without: on is the deployment's default (the
stack's DynamoDB table, `rag-eval score`'s folder), off is the request's `"cache": "off"`
(no lookup, no write). (c) has no cache. `--repeat R` runs every row R times,
interleaved, and adds the medians.

(a) runs one LocalStack (moto, the API front and the worker's pollers, in this process)
for every size, with one worker (one poller per queue: the shards of a job are scored one
after another, as on AWS with WorkerConcurrency 1): a judge process is started for each
run on one fixed port, the stack's OPENAI_BASE_URL. The worker is warmed once (a
two-sample job, not timed), so its first import of ragas is not counted; the time is
submit -> the client sees `completed`. `--worker-process`: the worker's execution
environments are processes of their own, as on Lambda, instead of threads of this one.

Where the time goes: the judge (`bench.timed_judge`) keeps when it served each call, and
the steps of a job (planning, each shard's scoring, the fan-in, the advice, the upload)
are timed by wrapping the functions that run them (in this process: with
`--worker-process` the worker's steps are not timed, and its shards are told apart by the
judge's calls). actual = ideal + the judge's own time beyond the latency / C + for each
stretch of the run, its wall time - the judge's work in it / C. `--dump F` keeps every
run's calls and steps; `--load F` prints the tables again from that file.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import ROOT, JudgeProcess, samples, table
from rag_eval.metrics import DEFAULT_METRICS

if TYPE_CHECKING:
    from rag_eval.domain.job import JobStatus

POLL_SECONDS = 0.05  # how often (a) asks the API for the job: its timing granularity
JUDGE = "bench.timed_judge"


# -- the steps of a job, timed ------------------------------------------------------------

# step -> where it runs: (module, class, method), or (module, None, function) for a
# function the module imported by name. A step with several places is timed wherever the
# code has one (the worker's steps moved out of JobProcessor: the older names let the
# benchmark run in a checkout from before); one found nowhere is left out of the timeline.
Place = tuple[str, str | None, str]
STEPS: dict[str, tuple[Place, ...]] = {
    "planning": (("rag_eval.app.planning", "Planner", "plan"),),
    "preflight": (
        ("rag_eval.app.plan_job", None, "judge_failure"),
        ("rag_eval.app.processing", "JobProcessor", "_judge_failure"),
    ),
    "shard delivery": (
        ("rag_eval.app.score_shard", "ScoreShard", "_run"),
        ("rag_eval.app.processing", "JobProcessor", "_run_shard"),
    ),
    "shard": (
        ("rag_eval.app.score_shard", "ScoreShard", "score"),
        ("rag_eval.app.processing", "JobProcessor", "_score_or_give_up"),
    ),
    "scoring": (("rag_eval.app.pipeline", "ScoringPipeline", "score_shard"),),
    "worker fan-in": (
        ("rag_eval.app.fan_in", "FanIn", "run"),
        ("rag_eval.app.processing", "JobProcessor", "_fan_in"),
    ),
    "reading shards": (("rag_eval.app.work_files", "WorkFiles", "gather"),),
    "fan-in": (("rag_eval.app.pipeline", "ScoringPipeline", "fan_in"),),
    "advice": (("rag_eval.app.pipeline", "ScoringPipeline", "_advise"),),
    "intervals": (("rag_eval.app.pipeline", None, "run_intervals"),),
    "report": (("rag_eval.app.pipeline", None, "render_report"),),
    "upload": (("rag_eval.app.pipeline", "ScoringPipeline", "_write_run"),),
}


class Steps:
    """(step, start, end) in epoch seconds of every step run in this process since clear()."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, float, float]] = []
        self.untimed: list[str] = []
        for step, places in STEPS.items():
            found = False
            for module, cls, name in places:
                try:
                    owner: Any = importlib.import_module(module)
                except ImportError:
                    continue
                if cls is not None:
                    owner = getattr(owner, cls, None)
                if owner is None or not hasattr(owner, name):
                    continue
                setattr(owner, name, self._wrap(step, getattr(owner, name)))
                found = True
            if not found:
                self.untimed.append(step)
        if self.untimed:
            print(f"not timed (not found in the code): {', '.join(self.untimed)}", flush=True)

    def _wrap(self, step: str, method: Callable[..., Any]) -> Callable[..., Any]:
        if asyncio.iscoroutinefunction(method):

            @functools.wraps(method)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                start = time.time()
                try:
                    return await method(*args, **kwargs)
                finally:
                    self.seen.append((step, start, time.time()))

            return timed_async

        @functools.wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.time()
            try:
                return method(*args, **kwargs)
            finally:
                self.seen.append((step, start, time.time()))

        return timed

    def clear(self) -> None:
        self.seen = []

    def of(self, step: str) -> list[tuple[float, float]]:
        return sorted((start, end) for name, start, end in self.seen if name == step)


STEPS_SEEN: Steps | None = None


def _steps() -> Steps:
    global STEPS_SEEN
    if STEPS_SEEN is None:
        STEPS_SEEN = Steps()
    return STEPS_SEEN


# -- the modes ----------------------------------------------------------------------------


Mark = tuple[float, float, int, int]


def _children_cpu() -> float:
    """CPU seconds of this process's children but the judge: (a)'s worker processes."""
    found = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="ascii").rsplit(")", 1)[1].split()
            if int(fields[1]) != os.getpid():
                continue
            if b"_judge" in (stat.parent / "cmdline").read_bytes():
                continue
            found += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            continue
    return found


def _mark() -> Mark:
    """Now: epoch seconds, CPU seconds of this process (all its threads: in (a) moto, the
    API front, the pollers and, unless it has processes of its own, the worker) and of the
    worker's processes, and the machine's busy and total jiffies."""
    busy = total = 0
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            jiffies = [int(v) for v in stat.readline().split()[1:]]
        total = sum(jiffies[:8])
        busy = total - jiffies[3] - jiffies[4]  # less idle and iowait
    except (OSError, ValueError, IndexError):
        pass
    return time.time(), time.process_time() + _children_cpu(), busy, total


def _settings(judge: JudgeProcess, cap: int):
    from rag_eval.domain.settings import Settings

    return Settings(
        openai_base_url=judge.base_url,
        openai_api_key="bench",
        max_concurrency=cap,
        metric_timeout_seconds=600,
        max_retries=0,  # a 429 from the cap would show up as a failure, not hide as a retry
    )


def _request(size: int, cache: bool) -> dict:
    return {
        "samples": samples(size, unique=uuid.uuid4().hex[:8]),
        "metrics": list(DEFAULT_METRICS),
        "cache": "use" if cache else "off",
    }


def in_process(size: int, latency: float, cap: int, cache: bool) -> dict:
    """(b) what `rag-eval score` runs: the scoring pipeline, run folder and advice included;
    with the cache, its folder store as `rag-eval score` makes it."""
    from rag_eval.adapters.local_files import DiskVerdictStore, LocalObjectStore
    from rag_eval.app.pipeline import ScoringPipeline
    from rag_eval.domain.job import new_job
    from rag_eval.domain.request import ScoreRequest

    steps = _steps()
    with JudgeProcess(latency, cap, JUDGE) as judge, tempfile.TemporaryDirectory() as folder:
        settings = _settings(judge, cap)
        request = ScoreRequest.model_validate(_request(size, cache))
        verdicts = DiskVerdictStore(Path(folder) / "cache") if cache else None
        pipeline = ScoringPipeline(settings, LocalObjectStore(Path(folder) / "runs"), verdicts)
        job = new_job(request, settings)
        steps.clear()
        started = _mark()
        done = asyncio.run(pipeline.arun(job, request))
        ended = _mark()
        if verdicts is not None:
            verdicts.close()
        failures = sum(sum(c.values()) for c in done.metric_failures.values())
        hits = done.cache.hits if done.cache else 0
        return _result(judge, (started, ended), latency, cap, failures, hits, steps)


def ragas_direct(size: int, latency: float, cap: int, cache: bool) -> dict:
    """(c) ragas' collections metrics with asyncio.gather under the same cap (no cache)."""
    from openai import AsyncOpenAI
    from ragas.embeddings import OpenAIEmbeddings
    from ragas.llms import llm_factory
    from ragas.metrics.collections import (
        AnswerRelevancy,
        ContextPrecision,
        ContextRecall,
        Faithfulness,
    )

    async def score(base_url: str) -> int:
        client = AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
        llm = llm_factory("gpt-4o-mini", client=client)
        metrics = [
            (Faithfulness(llm=llm), ("user_input", "response", "retrieved_contexts")),
            (
                AnswerRelevancy(llm=llm, embeddings=OpenAIEmbeddings(client=client)),
                ("user_input", "response"),
            ),
            (ContextPrecision(llm=llm), ("user_input", "reference", "retrieved_contexts")),
            (ContextRecall(llm=llm), ("user_input", "retrieved_contexts", "reference")),
        ]
        semaphore = asyncio.Semaphore(cap)

        async def one(metric, arguments) -> bool:
            async with semaphore:
                try:
                    await metric.ascore(**arguments)
                    return True
                except Exception:
                    return False

        jobs = []
        for sample in samples(size, unique=uuid.uuid4().hex[:8]):
            values = {
                "user_input": sample["question"],
                "response": sample["answer"],
                "retrieved_contexts": sample["contexts"],
                "reference": sample["ground_truth"],
            }
            for metric, names in metrics:
                jobs.append(one(metric, {name: values[name] for name in names}))
        results = await asyncio.gather(*jobs)
        await client.close()
        return results.count(False)

    steps = _steps()
    with JudgeProcess(latency, cap, JUDGE) as judge:
        steps.clear()
        started = _mark()
        failures = asyncio.run(score(judge.base_url))
        ended = _mark()
        return _result(judge, (started, ended), latency, cap, failures, 0, steps)


class _JudgeOnPort(JudgeProcess):
    """The timed judge on a given port: (a)'s stack keeps one OPENAI_BASE_URL."""

    def __init__(self, latency: float, cap: int | None, port: int) -> None:
        command = [
            sys.executable,
            "-m",
            JUDGE,
            "--latency",
            str(latency),
            "--port",
            str(port),
        ]
        if cap:
            command += ["--max-concurrency", str(cap)]
        self._process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        self.base_url = self._process.stdout.readline().strip()
        if not self.base_url:
            raise RuntimeError(f"the timed judge did not start on port {port}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


WORKERS = 1  # pollers per queue: one shard scored at a time


class StackRunner:
    """(a) the local stack end to end: POST /score-jobs -> SQS -> worker -> S3 + DynamoDB,
    polled through the API every POLL_SECONDS until the job is completed."""

    def __init__(
        self, cap: int, poll_seconds: float = POLL_SECONDS, worker_process: bool = False
    ) -> None:
        from rag_eval.client import ScoreJobsClient
        from rag_eval.local.handler_output import HandlerLog
        from rag_eval.local.stack import LocalStack

        self.cap = cap
        self.poll_seconds = poll_seconds
        self.port = _free_port()
        self._logs = tempfile.TemporaryDirectory()
        _steps()  # before the worker's first job: its environments find the methods wrapped
        self.stack = LocalStack(
            port=0,
            moto_port=0,
            visibility_timeout=900,  # no redelivery while a 200-sample job runs
            environment={
                "OPENAI_BASE_URL": f"http://127.0.0.1:{self.port}/v1",
                "OPENAI_API_KEY": "bench",
                "RAGAS_MAX_CONCURRENCY": str(cap),
                "RAGAS_MAX_RETRIES": "0",
                "RAGAS_METRIC_TIMEOUT_SECONDS": "600",
            },
            parameters={"LogLevel": "WARNING"},
            worker_concurrency=WORKERS,
            # A thread of this process (its steps timed), or a process of its own as on
            # Lambda (its steps not timed: shards are told apart by the judge's calls).
            worker_isolation="process" if worker_process else "thread",
            wait_time_seconds=1,
            # The handlers' JSON logs and EMF metrics to a file, not between the tables.
            handler_log=HandlerLog(Path(self._logs.name) / "handlers.jsonl"),
        )
        self.stack.start()
        self.shard_size = int(self.stack.environment.get("RAGAS_SHARD_SIZE") or 50)
        self.client = ScoreJobsClient(self.stack.endpoint, timeout=60)
        self.last: dict = {}
        # The worker's first job imports ragas and builds its pipeline: a one-off, not timed
        # (with the cache: its DynamoDB client is made then too). Two samples: its advice's
        # narrative prompt (aggregates, no sample text) is then no timed job's, whose
        # verdict the cache would answer.
        with _JudgeOnPort(0.0, cap, self.port):
            self._run(2, cache=True)
            if worker_process:  # and the shard queue's environment: a job of two shards
                self._run(self.shard_size + 1, cache=True)

    def _run(self, size: int, cache: bool) -> tuple[tuple[Mark, Mark], JobStatus]:
        from rag_eval.domain.states import JobState

        body = _request(size, cache)
        _steps().clear()
        started = _mark()
        submitted = self.client.submit(body)
        posted = time.time()
        while True:
            job = self.client.get_job(submitted.job_id)
            if job.status in (JobState.COMPLETED, JobState.FAILED):
                break
            time.sleep(self.poll_seconds)
        seen = _mark()
        if job.status is not JobState.COMPLETED:
            raise RuntimeError(f"stack job {job.job_id} failed: {job.error}")
        self.last = {"posted": posted}
        return (started, seen), job

    def __call__(self, size: int, latency: float, cap: int, cache: bool) -> dict:
        if cap != self.cap:
            raise ValueError(f"the stack was started for cap {self.cap}, not {cap}")
        with _JudgeOnPort(latency, cap, self.port) as judge:
            times, job = self._run(size, cache)
            failures = sum(sum(c.values()) for c in job.metric_failures.values())
            hits = job.cache.hits if job.cache else 0
            result = _result(judge, times, latency, cap, failures, hits, _steps())
            result["marks"]["posted"] = self.last["posted"]
            result["shards"] = result["shards"] or -(-size // self.shard_size)
            return result

    def close(self) -> None:
        self.stack.stop()
        self._logs.cleanup()


def _result(
    judge: JudgeProcess,
    times: tuple[Mark, Mark],
    latency: float,
    cap: int,
    failures: int,
    hits: int,
    steps: Steps,
) -> dict:
    stats = judge.stats()
    (started, cpu0, busy0, total0), (ended, cpu1, busy1, total1) = times
    seconds = ended - started
    ideal = stats["total_calls"] * latency / cap
    # The loopback judge takes a few ms beyond its sleep (parsing, loopback HTTP); the
    # ideal over its measured service time isolates what the client side loses.
    served = stats["busy_seconds"] / cap
    return {
        "seconds": seconds,
        "calls": stats["total_calls"],
        "titles": stats["calls_by_title"],
        "ideal": ideal,
        "efficiency": ideal / seconds,
        "served_ideal": served,
        "served_efficiency": served / seconds,
        "max_in_flight": stats["max_in_flight"],
        "rejected": stats["concurrency_rejections"],
        "failures": failures,
        "hits": hits,
        "cpu": cpu1 - cpu0,
        "machine": (busy1 - busy0) / (total1 - total0) if total1 > total0 else float("nan"),
        "shards": len(steps.of("scoring")),
        "spans": [tuple(span) for span in stats["spans"]],
        "steps": {step: steps.of(step) for step in STEPS},
        "marks": {"started": started, "ended": ended},
    }


# -- where the time goes ------------------------------------------------------------------


def _busy(spans: list[tuple[float, float]], start: float, end: float) -> float:
    """The judge's work (call-seconds) inside [start, end]."""
    return sum(max(0.0, min(e, end) - max(s, start)) for s, e in spans)


def _full_moments(spans: list[tuple[float, float]], cap: int) -> tuple[float, float] | None:
    """The first moment `cap` calls are in flight, and the last moment they still are."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    in_flight, first, last = 0, None, None
    for moment, step in events:
        if step < 0 and in_flight >= cap:
            last = moment
        in_flight += step
        if in_flight >= cap and first is None:
            first = moment
    return (first, last) if first is not None and last is not None else None


def _bursts(spans: list[tuple[float, float]], shards: int) -> list[tuple[float, float]]:
    """`shards` shards as the judge saw them: its calls cut at the shards - 1 longest times
    with none in flight; a last call alone, after all others, is the advice's narrative
    (the fan-in's), not a shard's."""
    ordered = sorted(spans)
    if len(ordered) > 1 and ordered[-1][0] >= max(end for _, end in ordered[:-1]):
        ordered = ordered[:-1]
    gaps, reach = [], ordered[0][1]
    for i in range(1, len(ordered)):
        if ordered[i][0] > reach:
            gaps.append((ordered[i][0] - reach, i))
        reach = max(reach, ordered[i][1])
    cuts = sorted(i for _, i in sorted(gaps, reverse=True)[: shards - 1])
    bursts = []
    for first, last in zip([0, *cuts], [*cuts, len(ordered)], strict=True):
        group = ordered[first:last]
        bursts.append((group[0][0], max(end for _, end in group)))
    return bursts


def where(r: dict, latency: float, cap: int) -> dict:
    """actual = ideal + judge beyond latency / C + each stretch's wall - its judge work / C.

    Stretches: before the first call; inside each shard (its first call -> its last
    answer; of which its tail, after the last moment with C calls in flight); between
    shards (a shard's last answer -> the next one's first call); after the last scoring
    answer (the fan-in with the narrative's call, the job's final write, the poll).
    """
    spans, steps = r["spans"], r["steps"]
    started, ended = r["marks"]["started"], r["marks"]["ended"]
    windows = steps["scoring"]
    if not windows and r["mode"] == STACK:
        windows = _bursts(spans, r["shards"])  # a worker process: its steps not timed
    elif not windows:
        windows = [(started, ended)]  # (c): one "shard", the whole run
    shards = []
    for s, e in windows:
        calls = [span for span in spans if s <= span[0] <= e]
        if calls:
            shards.append((min(c[0] for c in calls), max(c[1] for c in calls), calls))

    def lost(start: float, end: float) -> float:
        return (end - start) - _busy(spans, start, end) / cap

    extra = (sum(e - s for s, e in spans) - len(spans) * latency) / cap
    inside = tails = between = 0.0
    for k, (first, last, calls) in enumerate(shards):
        inside += lost(first, last)
        full = _full_moments(calls, cap)
        tails += lost(full[1], last) if full else lost(first, last)
        if k + 1 < len(shards):
            between += lost(last, shards[k + 1][0])
    before = lost(started, shards[0][0])
    after = lost(shards[-1][1], ended)
    return {
        "ideal": r["ideal"],
        "extra": extra,
        "before": before,
        "inside": inside,
        "tails": tails,
        "between": between,
        "after": after,
        "actual": r["seconds"],
        "check": r["ideal"] + extra + before + inside + between + after - r["seconds"],
        "shards": shards,
    }


def timeline(r: dict) -> list[tuple[str, float]]:
    """The run's stretches in order, seconds each: the steps' boundaries and the judge's
    first and last calls of each shard."""
    steps, marks = r["steps"], r["marks"]
    parts = where(r, 0.0, 1)["shards"]

    def one(step: str, k: int = 0, end: bool = False) -> float | None:
        found = steps.get(step) or []
        return found[k][1 if end else 0] if k < len(found) else None

    points: list[tuple[str, float | None]] = [
        ("POST /score-jobs answered", marks.get("posted")),
        ("queued, received by the worker", one("planning")),
        ("planning: samples read (and shards written)", one("planning", end=True)),
        ("plan recorded", one("preflight")),
        ("judge preflight (GET /models)", one("preflight", end=True)),
    ]
    delivered = bool(steps.get("shard delivery"))
    for k, (first, last, _calls) in enumerate(parts):
        if delivered:
            points += [
                (
                    "next shard's message received" if k else "shard messages sent, one received",
                    one("shard delivery", k),
                ),
                ("job, plan and shard lease read", one("shard", k)),
            ]
        points += [
            ("shard's samples read, event loop started", one("scoring", k)),
            ("judge client and metrics built, first call sent", first),
            (f"shard {k}: its first call -> its last answer", last),
            ("the last answers parsed, results gathered", one("scoring", k, True)),
            ("event loop closed", one("shard", k, True)),
        ]
        if k + 1 < len(parts):
            points += [
                ("result stored, shard counted, lease released", one("shard delivery", k, True))
            ]
    points += [
        ("last result stored, shard counted", one("worker fan-in")),
        ("shards' results read", one("reading shards", end=True)),
        ("diagnosis", one("advice")),
        ("advice, with the narrative's judge call", one("advice", end=True)),
        ("budget state", one("intervals")),
        ("intervals (bootstrap)", one("intervals", end=True)),
        ("run record", one("report")),
        ("report.html", one("report", end=True)),
        ("run files made", one("upload")),
        ("run folder uploaded", one("upload", end=True)),
        ("fan-in returns", one("fan-in", end=True)),
        ("job's final DynamoDB write", one("worker fan-in", end=True)),
        ("seen completed by the client (poll)", marks["ended"]),
    ]
    out, previous = [], marks["started"]
    for label, moment in points:
        if moment is None or moment < previous - 1e-6:
            continue
        out.append((label, moment - previous))
        previous = moment
    return out


# -- the command --------------------------------------------------------------------------

STACK = "local stack (submit -> completed)"
MODES = {
    STACK: None,  # a StackRunner, made in main() when asked for
    "rag-eval score (in-process)": in_process,
    "ragas direct (gather)": ragas_direct,
}
NO_CACHE = {"ragas direct (gather)"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 20, 200])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--cap", type=int, default=8)
    parser.add_argument("--modes", nargs="+", default=list(MODES))
    parser.add_argument(
        "--cache",
        nargs="+",
        choices=["on", "off"],
        default=["on", "off"],
        help="(a) and (b) with the judge-verdict cache, without, or both side by side",
    )
    parser.add_argument(
        "--poll", type=float, default=POLL_SECONDS, help="(a): seconds between GETs of the job"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each row, interleaved; medians shown"
    )
    parser.add_argument(
        "--worker-process",
        action="store_true",
        help="(a): the worker in a process of its own, as on Lambda (its steps not timed)",
    )
    parser.add_argument(
        "--dump", type=Path, help="write every run (the judge's calls, the steps) to this JSON"
    )
    parser.add_argument(
        "--load", type=Path, help="print the tables of a --dump file instead of measuring"
    )
    args = parser.parse_args(argv)
    unknown = set(args.modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; choose from {list(MODES)}")
    runs = json.loads(args.load.read_text(encoding="utf-8")) if args.load else _measure_all(args)
    if args.dump:
        args.dump.write_text(json.dumps(runs), encoding="utf-8")
    print()
    worker = "a process of its own" if runs[0].get("worker_process") else "a thread of this one"
    print(
        f"latency {args.latency} s per judge call, cap C = {args.cap} calls in flight, "
        f"{WORKERS} worker ((a): {worker})"
    )
    print(table(HEADER, [_row(run) for run in runs]))
    print()
    print("where the time goes (s): actual = ideal + the rest")
    print(table(WHERE_HEADER, [_where_row(run, args.latency, args.cap) for run in runs]))
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        groups.setdefault((run["mode"], run["N"], run["cache"]), []).append(run)
    if any(len(g) > 1 for g in groups.values()):
        median = {
            key: sorted(g, key=lambda run: run["seconds"])[len(g) // 2] for key, g in groups.items()
        }
        print()
        print(f"medians of {max(len(g) for g in groups.values())} runs")
        print(table(MEDIAN_HEADER, [_median_row(g) for g in groups.values()]))
        print()
        print("where the time goes (s) in the median run (by its time) of each")
        print(
            table(
                WHERE_HEADER, [_where_row(run, args.latency, args.cap) for run in median.values()]
            )
        )
    # Step by step: the median run (by its time) of each mode and cache at the largest N.
    biggest = max(run["N"] for run in runs)
    largest = [
        sorted(g, key=lambda run: run["seconds"])[len(g) // 2]
        for (mode, size, _), g in groups.items()
        if size == biggest and mode not in NO_CACHE
    ]
    largest = [run for run in largest if run["steps"]["scoring"]]  # a worker process: untimed
    if largest:
        print()
        print(f"N = {biggest}, step by step (s; a step that recurs, summed over shards)")
        print(_timelines(largest))


def _measure_all(args: argparse.Namespace) -> list[dict]:
    runners: dict[str, Any] = dict(MODES)
    if STACK in args.modes:  # warms its worker itself
        runners[STACK] = StackRunner(args.cap, args.poll, args.worker_process)
    try:
        runs = _measure(args, runners)
    finally:
        if runners[STACK] is not None:
            runners[STACK].close()
    for run in runs:
        run["worker_process"] = args.worker_process
    return runs


def _measure(args: argparse.Namespace, runners: dict) -> list[dict]:
    # And warm each in-process mode once (first client, first prompt): a one-off cost.
    for mode in args.modes:
        if mode != STACK:
            for cache in _caches(mode, args.cache):
                runners[mode](1, 0.0, args.cap, cache)
    runs = []
    for size in args.sizes:
        for _ in range(args.repeat):
            for mode in args.modes:
                for cache in _caches(mode, args.cache):
                    r = runners[mode](size, args.latency, args.cap, cache)
                    r.update(mode=mode, N=size, cache=None if mode in NO_CACHE else cache)
                    runs.append(r)
                    print(table(HEADER, [_row(r)]).splitlines()[-1], flush=True)
    return runs


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _median_row(group: list[dict]) -> list:
    first = group[0]
    efficiency = [r["efficiency"] for r in group]
    return [
        first["mode"],
        first["N"],
        _cache(first),
        first["shards"] or "-",
        "/".join(sorted({str(r["calls"]) for r in group})),
        max(r["hits"] for r in group),
        first["ideal"],
        _median([r["seconds"] for r in group]),
        _median(efficiency),
        f"{min(efficiency):.3f}-{max(efficiency):.3f}",
        _median([r["cpu"] for r in group]),
        _median([r["machine"] for r in group]),
    ]


def _caches(mode: str, asked: list[str]) -> list[bool]:
    return [False] if mode in NO_CACHE else [c == "on" for c in asked]


def _cache(run: dict) -> str:
    return "-" if run["cache"] is None else "on" if run["cache"] else "off"


def _row(r: dict) -> list:
    return [
        r["mode"],
        r["N"],
        _cache(r),
        r["shards"] or "-",
        r["calls"],
        r["hits"],
        r["ideal"],
        r["seconds"],
        r["efficiency"],
        r["served_ideal"],
        r["served_efficiency"],
        r["max_in_flight"],
        r["rejected"],
        r["failures"],
        r["cpu"],
        r["machine"],
    ]


def _where_row(r: dict, latency: float, cap: int) -> list:
    w = where(r, latency, cap)
    return [
        r["mode"],
        r["N"],
        _cache(r),
        w["ideal"],
        w["extra"],
        w["before"],
        w["inside"],
        w["tails"],
        w["between"],
        w["after"],
        w["actual"],
    ]


def _timelines(runs: list[dict]) -> str:
    columns = [f"{run['mode'].split(' (')[0]}, cache {_cache(run)}" for run in runs]
    lines = [timeline(run) for run in runs]
    labels: list[str] = []
    for line in lines:
        for label, _ in line:
            if label not in labels:
                labels.append(label)
    rows = []
    for label in labels:
        cells: list = []
        for line in lines:
            values = [seconds for name, seconds in line if name == label]
            cells.append(sum(values) if values else "")
        rows.append([label, *cells])
    return table(["step (time since the previous one)", *columns], rows)


HEADER = [
    "mode",
    "N",
    "cache",
    "shards",
    "judge calls",
    "cache hits",
    "ideal s",
    "actual s",
    "efficiency",
    "ideal s (served)",
    "efficiency (served)",
    "max in flight",
    "429s",
    "failed metrics",
    "CPU s (this process, (a)'s worker processes)",
    "machine busy (all cores)",
]

MEDIAN_HEADER = [
    "mode",
    "N",
    "cache",
    "shards",
    "judge calls",
    "cache hits (most)",
    "ideal s",
    "actual s",
    "efficiency",
    "efficiency (range)",
    "CPU s (this process, (a)'s worker processes)",
    "machine busy (all cores)",
]

WHERE_HEADER = [
    "mode",
    "N",
    "cache",
    "ideal",
    "judge beyond its latency / C",
    "before the first call",
    "inside shards: < C in flight",
    "of which the shards' tails",
    "between shards",
    "after the last scoring answer",
    "actual",
]

if __name__ == "__main__":
    main()
