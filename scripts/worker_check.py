"""The worker as deployed: build its image's task root, size it, score a job with it.

Usage: .venv/bin/python scripts/worker_check.py        (make worker-check)

No Docker engine is needed. The script

1. lays out `.build/worker-image/` as functions/worker/Dockerfile lays out ${LAMBDA_TASK_ROOT}:
   it runs the Dockerfile's own `pip install` command (read from the Dockerfile: wheels for
   the Lambda platform, exact pins, no resolving), then its COPY instructions filtered by
   .dockerignore, then byte-compiles our code as the image build does. The dependencies are
   reinstalled only when requirements/worker.txt or that command change (a stamp file);
2. prints the deployed size and the largest distributions, against Lambda's limits;
3. deploys template.yaml into a moto server on loopback, submits a job the way the API does
   (every offered metric, an English and a Chinese sample), receives its SQS message and runs
   the worker handler on it in a fresh `python3.12 -S` process whose only path is that
   folder, with the template's environment and a scripted OpenAI-compatible judge;
4. checks the handler's answer, the job item, every metric's score, the run folder in S3 and
   that nothing was imported from outside the folder or the standard library.

Exits 1 with the reason on any failure.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DOCKERFILE = ROOT / "functions" / "worker" / "Dockerfile"
LAMBDA_CONTEXT = ROOT / "rag_eval" / "local" / "lambda_context.py"
DOCKERIGNORE = ROOT / ".dockerignore"
REQUIREMENTS = ROOT / "requirements" / "worker.txt"
BUILD_ROOT = ROOT / ".build"
TASK_ROOT = BUILD_ROOT / "worker-image"
STAMP = BUILD_ROOT / "worker-image.stamp"
CHILD_LOG = BUILD_ROOT / "worker-check.log"

TASK_ROOT_VAR = "${LAMBDA_TASK_ROOT}"
MB = 1024 * 1024
ZIP_LIMIT_MB = 250
IMAGE_LIMIT_GB = 10
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
API_KEY_PARAMETER = "/ragas-serverless/openai-api-key"
RESULT_MARKER = "WORKER_CHECK_RESULT "

# The two samples: English (every metric can score it) and Chinese (judge and embeddings
# must cope with CJK text; ROUGE and BLEU are 0 there by ragas' whitespace tokenisation).
SAMPLES = [
    {
        "sample_id": "en-eiffel",
        "question": "When was the Eiffel Tower completed?",
        "contexts": [
            "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was completed in "
            "1889 as the entrance arch to the World's Fair.",
            "Gustave Eiffel's company designed and built the tower.",
        ],
        "answer": "The Eiffel Tower was completed in 1889.",
        "ground_truth": "The Eiffel Tower was completed in 1889.",
    },
    {
        "sample_id": "zh-great-wall",
        "question": "长城有多长？",
        "contexts": [
            "长城是中国古代的军事防御工程，全长约两万一千多公里。",
            "长城始建于春秋战国时期。",
        ],
        "answer": "长城全长约两万一千多公里。",
        "ground_truth": "长城全长约两万一千公里。",
    },
]

# Run in the fresh process, from the task root: import the handler, call it once, report.
CHILD_CODE = r"""
import json, sys, time
started_at = time.time()
clock = time.perf_counter()
import app
import_seconds = time.perf_counter() - clock
event_path, function_name, function_arn, memory_mb, timeout_s, context_path = sys.argv[1:7]
with open(event_path, encoding="utf-8") as handle:
    event = json.load(handle)

# The project's one fake Lambda context, loaded by path from outside the task root, as
# Lambda's runtime provides its context from outside it.
import importlib.util
spec = importlib.util.spec_from_file_location("lambda_context", context_path)
lambda_context = importlib.util.module_from_spec(spec)
sys.modules["lambda_context"] = lambda_context
spec.loader.exec_module(lambda_context)
context = lambda_context.LambdaContext(
    function_name,
    memory_limit_in_mb=int(memory_mb),
    timeout_seconds=int(timeout_s),
    invoked_function_arn=function_arn,
    aws_request_id="%(request_id)s",
    log_stream_name="worker-check",
)


clock = time.perf_counter()
result = app.lambda_handler(event, context)
handler_seconds = time.perf_counter() - clock
returned_at = time.time()
print(json.dumps(result), flush=True)

import sysconfig
modules = {}
for name, module in list(sys.modules.items()):
    file = getattr(module, "__file__", None)
    modules[name] = [file] if file else [str(p) for p in (getattr(module, "__path__", None) or [])]
paths = sysconfig.get_paths()
report = {
    "result": result,
    "started_at": started_at,
    "returned_at": returned_at,
    "import_seconds": import_seconds,
    "handler_seconds": handler_seconds,
    "sys_path": sys.path,
    "no_site": sys.flags.no_site,
    "stdlib": [paths["stdlib"], paths["platstdlib"]],
    "site_packages": [paths["purelib"], paths["platlib"]],
    "modules": modules,
}
print("%(marker)s" + json.dumps(report), flush=True)
"""


class CheckFailed(Exception):
    """The deployable worker does not build, import, score or stay in its folder."""


def say(text: str = "") -> None:
    print(text, flush=True)


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def python312() -> str:
    found = subprocess.run(
        [str(ROOT / "scripts" / "python312")], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        raise CheckFailed(f"no Python 3.12 interpreter: {found.stderr.strip()}")
    return found.stdout.strip()


# --------------------------------------------------------------------------- #
# The Dockerfile, read: its pip command, its COPY instructions, its ENV
# --------------------------------------------------------------------------- #


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of each instruction, continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped by Docker
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def dockerfile_pip_install(target: Path) -> list[str]:
    """The arguments after `pip` of the Dockerfile's install, pointed at local paths."""
    instructions = dockerfile_instructions()
    copied_requirements = {
        parts[1]: ROOT / parts[0]
        for keyword, arguments in instructions
        if keyword == "COPY" and len(parts := shlex.split(arguments)) == 2
        if parts[0].startswith("requirements/")
    }
    commands = [
        command.strip()
        for keyword, arguments in instructions
        if keyword == "RUN"
        for command in arguments.split("&&")
        if command.strip().startswith("pip install")
    ]
    if len(commands) != 1:
        raise CheckFailed(f"expected one `pip install` in {rel(DOCKERFILE)}, found {len(commands)}")
    words = shlex.split(commands[0])[1:]
    local = []
    for word in words:
        if TASK_ROOT_VAR in word:
            word = word.replace(TASK_ROOT_VAR, str(target))
        elif word in copied_requirements:
            word = str(copied_requirements[word])
        local.append(word)
    missing = [
        option
        for option in ("--no-deps", "--only-binary=:all:", "--platform", "--target")
        if option not in local
    ]
    if missing:
        # Without them the install would depend on the machine that runs it, and this
        # check could not reproduce the image.
        raise CheckFailed(f"the pip install of {rel(DOCKERFILE)} lacks {', '.join(missing)}")
    return local


def dockerfile_copies() -> list[tuple[Path, str]]:
    """(source in the context, destination under the task root) of the code COPY lines."""
    copies = []
    for keyword, arguments in dockerfile_instructions():
        if keyword != "COPY":
            continue
        source, destination = shlex.split(arguments)
        if destination.startswith(TASK_ROOT_VAR):
            copies.append((ROOT / source, destination[len(TASK_ROOT_VAR) :].lstrip("/")))
    return copies


def dockerfile_env(tmp: Path) -> dict[str, str]:
    """The image's ENV, with /tmp standing for this run's scratch folder (Lambda's /tmp)."""
    env = {}
    for keyword, arguments in dockerfile_instructions():
        if keyword == "ENV":
            for assignment in shlex.split(arguments):
                name, _, value = assignment.partition("=")
                env[name] = str(tmp) if value == "/tmp" else value
    return env


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, index = "", 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out, index = out + "(?:.*/)?", index + 3
        elif pattern.startswith("**", index):
            out, index = out + ".*", index + 2
        elif pattern[index] == "*":
            out, index = out + "[^/]*", index + 1
        elif pattern[index] == "?":
            out, index = out + "[^/]", index + 1
        else:
            out, index = out + re.escape(pattern[index]), index + 1
    return re.compile(out)


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(negated, pattern) of each .dockerignore line, in order."""
    rules = []
    for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = posixpath.normpath(line[1:].strip() if negated else line).lstrip("/")
        rules.append((negated, _glob_regex(pattern)))
    return rules


def ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negated, pattern in rules:
        if any(pattern.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def code_entries() -> list[str]:
    """The task root's top-level entries the code COPY lines make (rag_eval, app.py)."""
    entries = []
    for source, destination in dockerfile_copies():
        top = destination.split("/")[0]
        entries.append(top if top else source.name)
    return entries


def copy_into(source: Path, destination: str, target: Path) -> None:
    """Docker's COPY of a file, or of a directory's contents, through .dockerignore."""
    rules = dockerignore_rules()
    if source.is_file():
        files = [source]
        into = target / destination
        into = into / source.name if destination.endswith("/") or not destination else into
        places = {source: into}
    else:
        files = sorted(path for path in source.rglob("*") if path.is_file())
        places = {path: target / destination / path.relative_to(source) for path in files}
    for path in files:
        if ignored(path.relative_to(ROOT).as_posix(), rules):
            continue
        places[path].parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, places[path])


# --------------------------------------------------------------------------- #
# 1. The task root
# --------------------------------------------------------------------------- #


def build_task_root(interpreter: str) -> tuple[str, float]:
    """Install the dependencies (unless cached), then copy and compile our code."""
    BUILD_ROOT.mkdir(exist_ok=True)
    partial = BUILD_ROOT / "worker-image.partial"
    placeholder = Path("/TASK_ROOT")
    fingerprint = hashlib.sha256(
        REQUIREMENTS.read_bytes() + json.dumps(dockerfile_pip_install(placeholder)).encode()
    ).hexdigest()
    clock = time.monotonic()
    if TASK_ROOT.is_dir() and STAMP.is_file() and STAMP.read_text().strip() == fingerprint:
        state = "dependencies cached: requirements/worker.txt and the pip command unchanged"
    else:
        say("installing the worker's dependencies as the Dockerfile does (a few minutes) ...")
        shutil.rmtree(partial, ignore_errors=True)
        STAMP.unlink(missing_ok=True)
        command = [sys.executable, "-m", "pip", *dockerfile_pip_install(partial)]
        command.insert(4, "--quiet")  # after `-m pip install`
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise CheckFailed(
                f"pip install failed ({done.returncode}):\n"
                f"{done.stdout[-3000:]}{done.stderr[-3000:]}"
            )
        pip_check(interpreter, partial)
        shutil.rmtree(TASK_ROOT, ignore_errors=True)
        partial.rename(TASK_ROOT)
        STAMP.write_text(fingerprint + "\n")
        state = f"dependencies installed in {time.monotonic() - clock:.0f} s"
    # Our code: replaced on every run, as the image's COPY layers are.
    code = code_entries()
    for entry in code:
        path = TASK_ROOT / entry
        if path.is_dir():
            shutil.rmtree(path)
        path.unlink(missing_ok=True)
    for source, destination in dockerfile_copies():
        copy_into(source, destination, TASK_ROOT)
    # The image compiles our code at build time (its task root is read-only at run time).
    compiled = subprocess.run(
        [interpreter, "-m", "compileall", "-q", *code],
        cwd=TASK_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if compiled.returncode != 0:
        raise CheckFailed(f"compileall failed:\n{compiled.stdout}{compiled.stderr}")
    return state, time.monotonic() - clock


def pip_check(interpreter: str, folder: Path) -> None:
    """`pip check` over the folder alone (the Dockerfile runs it in the image)."""
    import pip

    with tempfile.TemporaryDirectory() as shim:
        os.symlink(Path(pip.__file__).parent, Path(shim) / "pip")
        done = subprocess.run(
            [
                interpreter,
                "-S",
                "-c",
                "import sys; from pip._internal.cli.main import main; sys.exit(main(['check']))",
            ],
            cwd=folder,  # not the repository, whose egg-info `-c` would put on the path
            env={"PYTHONPATH": f"{folder}{os.pathsep}{shim}", "PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise CheckFailed(f"pip check of the worker's folder failed:\n{done.stdout}{done.stderr}")


# --------------------------------------------------------------------------- #
# 2. Sizes
# --------------------------------------------------------------------------- #


def walk_files(folder: Path) -> Iterator[Path]:
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = [name for name in subdirectories if name != "__pycache__"]
        for name in files:
            yield Path(directory, name)


def distribution_files(folder: Path) -> dict[str, set[Path]]:
    """Each distribution's installed files (from its RECORD), without byte-code."""
    owned: dict[str, set[Path]] = {}
    for record in folder.glob("*.dist-info/RECORD"):
        metadata = (record.parent / "METADATA").read_text(encoding="utf-8", errors="replace")
        name = re.search(r"^Name: (.+)$", metadata, re.MULTILINE)
        files = set()
        for line in record.read_text(encoding="utf-8").splitlines():
            entry = line.rsplit(",", 2)[0]
            # `pip install --target` records console scripts as ../../bin/<name>.
            normalized = posixpath.normpath(entry)
            while normalized.startswith("../"):
                normalized = normalized[3:]
            path = folder / normalized
            if "__pycache__" not in path.parts and path.is_file():
                files.add(path)
        owned[name.group(1).strip() if name else record.parent.name] = files
    return owned


def report_sizes(owned: dict[str, set[Path]]) -> int:
    files = list(walk_files(TASK_ROOT))
    total = sum(path.stat().st_size for path in files)
    with_bytecode = sum(path.stat().st_size for path in TASK_ROOT.rglob("*") if path.is_file())
    by_distribution = {
        name: sum(path.stat().st_size for path in paths) for name, paths in owned.items()
    }
    code = set(code_entries())
    ours = sum(
        path.stat().st_size for path in files if path.relative_to(TASK_ROOT).parts[0] in code
    )
    say(
        f"deployed size: {total / MB:.1f} MB unzipped without __pycache__ "
        f"({len(files)} files, {len(owned)} distributions; our code {ours / MB:.2f} MB); "
        f"{with_bytecode / MB:.1f} MB with the byte-code the image carries"
    )
    say("largest distributions:")
    for name, size in sorted(by_distribution.items(), key=lambda item: -item[1])[:10]:
        say(f"  {name:<24} {size / MB:7.1f} MB")
    fits_zip = total <= ZIP_LIMIT_MB * MB
    say(
        f"limits: container image {IMAGE_LIMIT_GB} GB (this task root plus the base image) "
        f"vs zip package {ZIP_LIMIT_MB} MB unzipped with its layers: "
        f"{total / MB:.0f} MB {'fits' if fits_zip else 'does not fit'} in a zip."
    )
    say(
        "  The worker is an image: what scoring imports alone (pyarrow via datasets, scipy via "
        "nltk, numpy, pandas, ...) is over the zip limit (measured below); an image holds it."
    )
    return total


# --------------------------------------------------------------------------- #
# 3. The local stack and the fresh process
# --------------------------------------------------------------------------- #


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def template_function_properties(logical_id: str) -> dict[str, Any]:
    from rag_eval.local.template import load_template

    return load_template()["Resources"][logical_id]["Properties"]


def sqs_event(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS poller gives the function (events/worker-sqs-batch.json)."""
    kept = (
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    )
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    k: message["Attributes"][k] for k in kept if k in message["Attributes"]
                },
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
        ]
    }


def lambda_environment(
    function_name: str, memory_mb: int, tmp: Path, interpreter: str, aws: dict[str, str]
) -> dict[str, str]:
    """What the Lambda runtime sets for an image function (credentials: fake, for moto)."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "worker-check",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        **aws,
        "LAMBDA_TASK_ROOT": str(TASK_ROOT),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "LD_LIBRARY_PATH": f"{TASK_ROOT}{os.pathsep}{TASK_ROOT / 'lib'}",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PATH": f"{Path(interpreter).parent}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "_HANDLER": "app.lambda_handler",
        "HOME": str(tmp),
    }


def snapshot(folder: Path) -> dict[str, float]:
    return {str(path): path.stat().st_mtime for path in folder.rglob("*") if path.is_file()}


def run_stack_and_worker(interpreter: str, owned: dict[str, set[Path]]) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    from rag_eval.adapters.aws.api_root import job_service
    from rag_eval.adapters.aws.dynamodb import DynamoJobRepository
    from rag_eval.domain.layout import run_folder
    from rag_eval.domain.settings import Settings
    from rag_eval.local.deploy import deploy
    from rag_eval.local.template import function_environment
    from rag_eval.metrics import REGISTRY
    from rag_eval.scoring.run_folder import RUN_FILES
    from testkit.scripted_judge import ScriptedJudge

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request log lines
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": endpoint,
    }
    os.environ.update(aws, AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION)
    os.environ.pop("AWS_PROFILE", None)
    try:
        with ScriptedJudge() as judge, tempfile.TemporaryDirectory() as scratch:
            tmp = Path(scratch)
            # The judge's key lives in SSM, as the template expects; the worker fetches it.
            boto3.client("ssm").put_parameter(
                Name=API_KEY_PARAMETER, Value="test", Type="SecureString"
            )
            parameters = {
                "OpenAIBaseUrl": judge.base_url,
                "OpenAIApiKeyParameter": API_KEY_PARAMETER,
            }
            ids = deploy(boto3.client("cloudformation"), parameters=parameters)
            function_name = ids["WorkerFunction"]
            # This script plays Lambda's SQS poller; moto's own would swallow the message.
            lambda_client = boto3.client("lambda")
            for mapping in lambda_client.list_event_source_mappings(FunctionName=function_name)[
                "EventSourceMappings"
            ]:
                lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)

            settings = Settings.from_env(function_environment("ApiFunction", ids, parameters))
            body = {"samples": SAMPLES, "metrics": list(REGISTRY)}
            job = job_service(settings).submit(body, caller="worker-check").job
            sqs = boto3.client("sqs")
            queue_url = ids["ScoreQueue"]
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=2,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                raise CheckFailed("the submitted job's message is not in the score queue")
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            event_path = tmp / "event.json"
            event_path.write_text(json.dumps(sqs_event(messages[0], queue_arn)), encoding="utf-8")
            say(
                f"job {job.job_id} submitted through the API's service: {len(SAMPLES)} samples "
                f"(en, zh) x {len(REGISTRY)} metrics; its SQS message is the event"
            )

            properties = template_function_properties("WorkerFunction")
            memory_mb, timeout_s = int(properties["MemorySize"]), int(properties["Timeout"])
            env = {
                **lambda_environment(function_name, memory_mb, tmp, interpreter, aws),
                **function_environment("WorkerFunction", ids, parameters),
                **dockerfile_env(tmp),
                "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
                "PYTHONPATH": str(TASK_ROOT),
            }
            env["HOME"] = str(tmp)
            code = CHILD_CODE % {"request_id": uuid.uuid4(), "marker": RESULT_MARKER}
            arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
            before = snapshot(TASK_ROOT)
            launched_at = time.time()
            # -S: no site-packages at all; the environment above is the whole environment, so
            # PYTHONPATH (the task root) is the only path beyond the standard library.
            child = subprocess.run(
                [
                    interpreter,
                    "-S",
                    "-c",
                    code,
                    str(event_path),
                    function_name,
                    arn,
                    str(memory_mb),
                    str(timeout_s),
                    str(LAMBDA_CONTEXT),
                ],
                cwd=TASK_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
            finished_at = time.time()
            CHILD_LOG.write_text(
                f"exit {child.returncode}\n--- stdout\n{child.stdout}\n--- stderr\n{child.stderr}",
                encoding="utf-8",
            )
            lines = [line for line in child.stdout.splitlines() if line.startswith(RESULT_MARKER)]
            if child.returncode != 0 or not lines:
                raise CheckFailed(
                    f"the worker process failed (exit {child.returncode}); log in "
                    f"{rel(CHILD_LOG)}:\n{(child.stdout + child.stderr)[-4000:]}"
                )
            report = json.loads(lines[-1][len(RESULT_MARKER) :])
            written = sorted(set(snapshot(TASK_ROOT).items()) - set(before.items()))
            verify(
                report,
                job_id=job.job_id,
                launched_at=launched_at,
                finished_at=finished_at,
                written=[name for name, _ in written],
                owned=owned,
                repository=DynamoJobRepository(settings.jobs_table),
                s3=boto3.client("s3"),
                bucket=settings.artifacts_bucket,
                run_files=set(RUN_FILES),
                run_folder=run_folder,
                metrics=list(REGISTRY),
                judge_calls=judge.stats(),
            )
            # Lambda's poller deletes the messages the handler did not report as failed.
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
    finally:
        moto.stop()


# --------------------------------------------------------------------------- #
# 4. Verdict
# --------------------------------------------------------------------------- #


def outside_imports(report: dict[str, Any]) -> list[str]:
    """Modules whose files are neither in the task root nor in the standard library."""
    allowed = [str(TASK_ROOT), *report["stdlib"]]
    given = {str(LAMBDA_CONTEXT)}  # the fake runtime's context, not the handler's code
    forbidden = report["site_packages"]

    def fine(path: str) -> bool:
        path = os.path.abspath(os.path.join(str(TASK_ROOT), path))
        if path in given:
            return True
        if any(path.startswith(prefix + os.sep) for prefix in forbidden):
            return False
        return any(path.startswith(prefix + os.sep) for prefix in allowed)

    return sorted(
        f"{name} ({paths[0]})"
        for name, paths in report["modules"].items()
        if paths and not all(fine(path) for path in paths)
    )


def imported_distributions(report: dict[str, Any], owned: dict[str, set[Path]]) -> dict[str, int]:
    """The distributions whose modules the run imported, with their installed sizes."""
    owner = {str(path): name for name, paths in owned.items() for path in paths}
    used = set()
    for paths in report["modules"].values():
        for path in paths:
            source = Path(path)
            if source.suffix == ".pyc":  # a module loaded from byte-code only
                source = source.parent.parent / (source.name.split(".")[0] + ".py")
            name = owner.get(str(source))
            if name:
                used.add(name)
    return {name: sum(path.stat().st_size for path in owned[name]) for name in used}


def verify(report: dict[str, Any], **facts: Any) -> None:
    problems = []
    result = report["result"]
    say(f"handler returned: {json.dumps(result)}")
    if result != {"batchItemFailures": []}:
        problems.append(f"the handler reported failed records: {result}")

    found = facts["repository"].get(facts["job_id"])
    job = found[0] if found else None
    say(f"job {facts['job_id']} in DynamoDB: {job.status if job else 'missing'}")
    if job is None or job.status != "completed":
        problems.append(
            f"the job is {job.status if job else 'missing'}, not completed"
            + (f": {job.error}" if job and job.error else "")
        )
    scores = dict(job.scores) if job else {}
    missing = [metric for metric in facts["metrics"] if scores.get(metric) is None]
    say(f"scores (mean of the {len(SAMPLES)} samples):")
    for metric in facts["metrics"]:
        value = scores.get(metric)
        shown = "null" if value is None else f"{value:.4f}"
        reason = ""
        if value is None and job is not None:
            reason = f"  <- {job.metric_failures.get(metric, job.skip_reasons.get(metric, '?'))}"
        say(f"  {metric:<27} {shown}{reason}")
    if missing:
        problems.append(f"metrics without a score: {', '.join(missing)}")
    else:
        say(f"all {len(facts['metrics'])} metrics scored")

    run_id = job.run_id if job else None
    if run_id:
        prefix = facts["run_folder"](run_id)
        listed = facts["s3"].list_objects_v2(Bucket=facts["bucket"], Prefix=prefix)
        names = {item["Key"][len(prefix) :] for item in listed.get("Contents", [])}
        say(f"S3 s3://{facts['bucket']}/{prefix}: {len(names)} files ({', '.join(sorted(names))})")
        if names != facts["run_files"]:
            problems.append(
                f"the run folder holds {sorted(names)}, not {sorted(facts['run_files'])}"
            )
    else:
        problems.append("the job has no run_id")

    outside = outside_imports(report)
    say(f"child sys.path (python3.12 -S, PYTHONPATH = the task root): {report['sys_path']}")
    if not report["no_site"]:
        problems.append("the child ran with the site module")
    if outside:
        problems.append(f"imported from outside the task root and stdlib: {outside[:10]}")
    else:
        say(
            f"imports: {len(report['modules'])} modules, every one from the task root "
            "or the standard library"
        )
    used = imported_distributions(report, facts["owned"])
    imported_mb = sum(used.values()) / MB
    say(
        f"imported while scoring: {len(used)} of {len(facts['owned'])} distributions, "
        f"{imported_mb:.0f} MB installed ("
        + ("over" if imported_mb > ZIP_LIMIT_MB else "within")
        + f" the {ZIP_LIMIT_MB} MB zip limit by itself)"
    )
    if facts["written"]:
        problems.append(
            f"the run wrote into the task root (read-only on Lambda): {facts['written'][:5]}"
        )
    stats = facts["judge_calls"]
    say(f"scripted judge: {stats.chat_calls} chat calls, {stats.embedding_calls} embedding calls")
    say(
        f"time to first score: {report['returned_at'] - facts['launched_at']:.1f} s "
        f"(fresh process start -> handler returned); import app: {report['import_seconds']:.2f} s; "
        f"handler (ragas import + scoring + S3/DynamoDB): {report['handler_seconds']:.1f} s; "
        f"interpreter start: {report['started_at'] - facts['launched_at']:.2f} s"
    )
    if problems:
        raise CheckFailed("\n  - ".join(["the deployed worker failed:", *problems]))


def main() -> int:
    try:
        interpreter = python312()
        state, seconds = build_task_root(interpreter)
        say(f"worker task root: {rel(TASK_ROOT)} ({state}; ready in {seconds:.1f} s)")
        owned = distribution_files(TASK_ROOT)
        report_sizes(owned)
        run_stack_and_worker(interpreter, owned)
    except CheckFailed as failure:
        say(f"worker-check FAILED: {failure}")
        return 1
    except Exception:
        traceback.print_exc()
        say("worker-check FAILED: the check itself broke (traceback above)")
        return 1
    say("worker-check OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
