"""The pin lists, generated from one lock file.

Usage: .venv/bin/python scripts/pins.py            (make pins: write the generated lists)
       .venv/bin/python scripts/pins.py --check    (make pins-check, part of make lint)

requirements/constraints.txt is the lock: every package `.venv` installs, each pinned
exactly, and the one list of versions edited by hand. pyproject.toml names the top-level
packages, pinned exactly too. From the two this script

- checks that each of pyproject's pins is the lock's version, and that the lock pins
  exactly the closure of pyproject's dependencies and extras, no more and no less;
- generates requirements/worker.txt, the worker image's list (installed with --no-deps):
  the closure of the light dependencies and the `scoring` extra;
- generates layers/common/requirements.txt, CommonLayer's list (--no-deps too): the closure
  of the light dependencies without what the python3.12 Lambda runtime ships.

A closure is read from the metadata of the distributions installed in the environment
that runs this script (.venv, installed from the lock; their versions are checked against
it), with the environment markers evaluated for Lambda: CPython 3.12 on x86_64 Linux.
Standard library only. `--check` writes nothing: it exits 1 naming each list that differs
from what would be generated.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import importlib.metadata
import re
import sys
import textwrap
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = "requirements/constraints.txt"
PYPROJECT = "pyproject.toml"
WORKER = "requirements/worker.txt"
LAYER = "layers/common/requirements.txt"
# What the python3.12 Lambda runtime ships (the Makefile's RUNTIME_PACKAGES): CommonLayer
# leaves it out.
RUNTIME_PACKAGES = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
)
# Lambda's python3.12 runtime, as environment markers see it (PEP 508).
TARGET = {
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "implementation_name": "cpython",
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "implementation_version": "3.12.0",
}
VERSION_MARKERS = frozenset({"python_version", "python_full_version", "implementation_version"})
MAKE_PINS = "run `make pins`"

REQUIREMENT = re.compile(
    r"\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*"
    r"(?:\[(?P<extras>[^\]]*)\])?\s*(?P<spec>[^;]*?)\s*(?:;\s*(?P<marker>.*?))?\s*$"
)
EXACT = re.compile(r"==\s*(?P<version>[A-Za-z0-9.+!_-]+)")


class PinError(Exception):
    """The lock, pyproject or the environment do not agree; the message says how."""


def canonical(name: str) -> str:
    """A package's or an extra's name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Requirement:
    name: str
    extras: tuple[str, ...]
    spec: str
    marker: str | None

    @property
    def key(self) -> str:
        return canonical(self.name)


def parse_requirement(text: str) -> Requirement:
    match = REQUIREMENT.fullmatch(text)
    if match is None:
        raise PinError(f"cannot read the requirement {text!r}")
    extras = match["extras"] or ""
    return Requirement(
        name=match["name"],
        extras=tuple(sorted(e.strip() for e in extras.split(",") if e.strip())),
        spec=match["spec"],
        marker=match["marker"] or None,
    )


@dataclass(frozen=True)
class Pin:
    name: str  # as the lock spells it
    version: str


@dataclass(frozen=True)
class Installed:
    version: str
    requires: tuple[str, ...]


def installed_distributions() -> dict[str, Installed]:
    """The distributions this interpreter imports from, by canonical name (first one wins)."""
    found: dict[str, Installed] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and canonical(name) not in found:
            found[canonical(name)] = Installed(dist.version, tuple(dist.requires or ()))
    return found


def read_lock(text: str) -> dict[str, Pin]:
    pins: dict[str, Pin] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        requirement = parse_requirement(line)
        exact = EXACT.fullmatch(requirement.spec)
        if exact is None or requirement.extras or requirement.marker:
            raise PinError(f"{LOCK} line {number}: expected name==version, found {line!r}")
        if requirement.key in pins:
            raise PinError(f"{LOCK} line {number}: {requirement.name} is pinned twice")
        pins[requirement.key] = Pin(requirement.name, exact["version"])
    return pins


@dataclass(frozen=True)
class Project:
    dependencies: tuple[Requirement, ...]
    extras: Mapping[str, tuple[Requirement, ...]]

    @property
    def everything(self) -> tuple[Requirement, ...]:
        return self.dependencies + tuple(r for group in self.extras.values() for r in group)


def read_pyproject(text: str) -> Project:
    project = tomllib.loads(text)["project"]
    return Project(
        dependencies=tuple(parse_requirement(r) for r in project.get("dependencies", [])),
        extras={
            extra: tuple(parse_requirement(r) for r in requirements)
            for extra, requirements in project.get("optional-dependencies", {}).items()
        },
    )


def marker_holds(marker: str, extra: str) -> bool:
    """Whether a PEP 508 marker holds on TARGET, for one extra ("" for none)."""
    try:
        tree = ast.parse(marker, mode="eval").body
    except SyntaxError:
        raise PinError(f"cannot evaluate the environment marker {marker!r}") from None
    return _holds(tree, marker, canonical(extra))


def _holds(node: ast.expr, marker: str, extra: str) -> bool:
    if isinstance(node, ast.BoolOp):
        values = (_holds(value, marker, extra) for value in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        variable = next(
            (side.id for side in (node.left, node.comparators[0]) if isinstance(side, ast.Name)),
            None,
        )
        left = _marker_value(node.left, marker, extra)
        right = _marker_value(node.comparators[0], marker, extra)
        if variable == "extra":
            left, right = canonical(left), canonical(right)
        return _compare(left, node.ops[0], right, variable in VERSION_MARKERS, marker)
    raise PinError(f"cannot evaluate the environment marker {marker!r}")


def _marker_value(node: ast.expr, marker: str, extra: str) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id == "extra":
        return extra
    if isinstance(node, ast.Name) and node.id in TARGET:
        return TARGET[node.id]
    raise PinError(f"cannot evaluate the environment marker {marker!r}")


def _compare(left: str, op: ast.cmpop, right: str, versions: bool, marker: str) -> bool:
    if isinstance(op, ast.In):
        return left in right
    if isinstance(op, ast.NotIn):
        return left not in right
    if versions and (a := _release(left)) and (b := _release(right)):
        width = max(len(a), len(b))
        a, b = a + (0,) * (width - len(a)), b + (0,) * (width - len(b))
        orders = {ast.Eq: a == b, ast.NotEq: a != b, ast.Lt: a < b, ast.LtE: a <= b}
        orders |= {ast.Gt: a > b, ast.GtE: a >= b}
        if type(op) in orders:
            return orders[type(op)]
    elif isinstance(op, ast.Eq | ast.NotEq):
        return (left == right) == isinstance(op, ast.Eq)
    raise PinError(f"cannot evaluate the environment marker {marker!r}")


def _release(version: str) -> tuple[int, ...]:
    return (
        tuple(int(part) for part in version.split("."))
        if re.fullmatch(r"\d+(\.\d+)*", version)
        else ()
    )


def closure(roots: Iterable[Requirement], installed: Mapping[str, Installed]) -> dict[str, str]:
    """Every package the roots need on TARGET (themselves included) -> one that needs it."""
    needed: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    todo = [(root.key, extra, PYPROJECT) for root in roots for extra in ("", *root.extras)]
    while todo:
        key, extra, needed_by = todo.pop()
        needed.setdefault(key, needed_by)
        if (key, extra) in seen:
            continue
        seen.add((key, extra))
        dist = installed.get(key)
        if dist is None:
            raise PinError(
                f"{key} (needed by {needed_by}) is not installed in this environment: install"
                f" the lock into .venv (make pins does, when {LOCK} changed)"
            )
        for text in dist.requires:
            requirement = parse_requirement(text)
            try:
                if requirement.marker and not marker_holds(requirement.marker, extra):
                    continue
            except PinError as error:
                raise PinError(f"{error}, of {key}'s requirement {text!r}") from None
            todo += [(requirement.key, nested, key) for nested in ("", *requirement.extras)]
    return needed


def check_agreement(
    project: Project, lock: Mapping[str, Pin], installed: Mapping[str, Installed]
) -> None:
    """pyproject's pins are the lock's, the lock is the closure, .venv is the lock."""
    for requirement in project.everything:
        exact = EXACT.fullmatch(requirement.spec)
        if exact is None or requirement.marker:
            raise PinError(f"{PYPROJECT}: {requirement.name} is not pinned exactly (name==version)")
        pin = lock.get(requirement.key)
        if pin is None:
            raise PinError(
                f"{PYPROJECT} pins {requirement.name}=={exact['version']}, which {LOCK} does"
                f" not pin: add it there"
            )
        if pin.version != exact["version"]:
            raise PinError(
                f"{PYPROJECT} pins {requirement.name}=={exact['version']} but {LOCK} pins"
                f" {pin.name}=={pin.version}: make them equal, then {MAKE_PINS}"
            )
    needed = closure(project.everything, installed)
    missing = sorted(set(needed) - set(lock))
    if missing:
        raise PinError(
            f"{LOCK} does not pin "
            + ", ".join(
                f"{key} (needed by {needed[key]}; installed: {installed[key].version})"
                for key in missing
            )
            + f": add each as name==version, then {MAKE_PINS}"
        )
    unneeded = sorted(set(lock) - set(needed))
    if unneeded:
        raise PinError(
            f"{LOCK} pins {', '.join(lock[key].name for key in unneeded)}, which nothing in"
            f" {PYPROJECT}'s dependencies needs: remove it, then {MAKE_PINS}"
        )
    differing = [
        f"{pin.name}=={pin.version} (installed: {installed[key].version})"
        for key, pin in sorted(lock.items())
        if installed[key].version != pin.version
    ]
    if differing:
        raise PinError(
            f"this environment is not the lock: {', '.join(differing)}; install the lock"
            f" into .venv (`make pins` does, when {LOCK} changed)"
        )


def render(
    header: Sequence[str],
    roots: Sequence[Requirement],
    keys: Iterable[str],
    lock: Mapping[str, Pin],
) -> str:
    """A list: its header's paragraphs as comments, then the keys' pins, by canonical name.

    A root asked for with extras keeps them (name[extra]==version); every name is spelled
    as the lock spells it.
    """
    lines = [
        line
        for paragraph in header
        for line in textwrap.wrap(
            paragraph,
            width=96,
            initial_indent="# ",
            subsequent_indent="#   " if paragraph.startswith("  ") else "# ",
            break_on_hyphens=False,
            break_long_words=False,
        )
    ]
    extras = {root.key: root.extras for root in roots}
    for key in sorted(keys):
        suffix = f"[{','.join(extras[key])}]" if extras.get(key) else ""
        lines.append(f"{lock[key].name}{suffix}=={lock[key].version}")
    return "\n".join(lines) + "\n"


def _listed(roots: Iterable[Requirement], lock: Mapping[str, Pin]) -> str:
    """The roots as pyproject spells them, at the lock's versions: an indented paragraph."""
    return "  " + " ".join(
        f"{r.name}{'[' + ','.join(r.extras) + ']' if r.extras else ''}=={lock[r.key].version}"
        for r in roots
    )


GENERATED = f"Generated by `make pins` from {LOCK}: do not edit it by hand."


def worker_list(
    project: Project, lock: Mapping[str, Pin], installed: Mapping[str, Installed]
) -> str:
    scoring = project.extras.get("scoring", ())
    roots = (*scoring, *project.dependencies)
    header = [
        "The worker image's Python packages (functions/worker/Dockerfile installs them with"
        " --no-deps).",
        GENERATED,
        "The full closure of the scoring extra and the light dependencies of pyproject.toml,"
        " every version pinned exactly as in the lock:",
        _listed(scoring, lock),
        _listed(project.dependencies, lock),
        "boto3/botocore/s3transfer/jmespath are in the Lambda base image too; they are pinned"
        " here anyway so the image runs the SDK version the tests ran, whatever base image it"
        " is built on.",
    ]
    return render(header, roots, closure(roots, installed), lock)


def layer_list(
    project: Project, lock: Mapping[str, Pin], installed: Mapping[str, Installed]
) -> str:
    roots = project.dependencies
    header = [
        "CommonLayer's light dependencies, installed with --no-deps by `make build-CommonLayer`.",
        GENERATED,
        "The closure of the light dependencies of pyproject.toml",
        _listed([r for r in roots if r.key not in RUNTIME_PACKAGES], lock),
        f"without what the python3.12 runtime ships: {', '.join(RUNTIME_PACKAGES)}."
        " Shipping botocore here would shadow the runtime's copy under the runtime's boto3"
        " (and add ~30 MB).",
    ]
    keys = set(closure(roots, installed)) - set(RUNTIME_PACKAGES)
    return render(header, roots, keys, lock)


def generate(root: Path, installed: Mapping[str, Installed]) -> dict[str, str]:
    """Each generated list (path relative to root -> content), after checking the sources."""
    lock = read_lock((root / LOCK).read_text(encoding="utf-8"))
    project = read_pyproject((root / PYPROJECT).read_text(encoding="utf-8"))
    check_agreement(project, lock, installed)
    return {
        WORKER: worker_list(project, lock, installed),
        LAYER: layer_list(project, lock, installed),
    }


def stale(root: Path, generated: Mapping[str, str]) -> list[str]:
    """A message for each generated list whose file differs, with the lines that differ."""
    messages = []
    for path, content in generated.items():
        file = root / path
        current = file.read_text(encoding="utf-8") if file.exists() else ""
        if current == content:
            continue
        diff = list(difflib.unified_diff(current.splitlines(), content.splitlines(), n=0))
        changes = [f"  {line}" for line in diff[2:] if not line.startswith("@@")]
        messages.append(
            f"{path} is stale: it is generated from {LOCK} and {PYPROJECT};"
            f" {MAKE_PINS} (in the file -, generated +):\n" + "\n".join(changes)
        )
    return messages


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="write nothing; fail if stale")
    arguments = parser.parse_args(argv)
    try:
        generated = generate(ROOT, installed_distributions())
    except PinError as error:
        print(f"pins: {error}", file=sys.stderr)
        return 1
    messages = stale(ROOT, generated)
    if arguments.check:
        for message in messages:
            print(f"pins: {message}", file=sys.stderr)
        if not messages:
            print(f"pins: {' and '.join(generated)} are up to date")
        return 1 if messages else 0
    for path, content in generated.items():
        if (ROOT / path).exists() and (ROOT / path).read_text(encoding="utf-8") == content:
            print(f"pins: {path} up to date")
        else:
            (ROOT / path).write_text(content, encoding="utf-8")
            print(f"pins: {path} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
