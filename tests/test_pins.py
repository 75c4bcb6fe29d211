"""The pin lists: requirements/constraints.txt is the lock, the others are generated from it.

scripts/pins.py (make pins, make pins-check) writes requirements/worker.txt and
layers/common/requirements.txt from the lock and pyproject's top-level names; these tests
hold the committed lists to it and show that a stale one, or a lock that pyproject or the
closure disagree with, is reported by name.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from scripts import pins

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("requirements/constraints.txt", "pyproject.toml")
LISTS = ("requirements/worker.txt", "layers/common/requirements.txt")


@pytest.fixture(scope="module")
def installed() -> dict[str, pins.Installed]:
    return pins.installed_distributions()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the lock, pyproject and the generated lists, to edit."""
    for path in (*SOURCES, *LISTS):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    return tmp_path


def _bump(root: Path, name: str, version: str) -> None:
    lock = root / "requirements/constraints.txt"
    lines = lock.read_text(encoding="utf-8").splitlines()
    (changed,) = [i for i, line in enumerate(lines) if line.startswith(f"{name}==")]
    lines[changed] = f"{name}=={version}"
    lock.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_the_committed_lists_are_the_generated_ones(installed: dict[str, pins.Installed]) -> None:
    generated = pins.generate(ROOT, installed)

    assert set(generated) == set(LISTS)
    assert pins.stale(ROOT, generated) == []


def test_the_layer_leaves_out_what_the_runtime_ships_and_the_worker_has_it_all(
    installed: dict[str, pins.Installed],
) -> None:
    generated = pins.generate(ROOT, installed)
    worker, layer = (
        {
            pins.canonical(line.split("==")[0].split("[")[0])
            for line in generated[path].splitlines()
            if not line.startswith("#")
        }
        for path in LISTS
    )

    assert {"ragas", "pydantic", "aws-xray-sdk", "boto3", "botocore", "six"} <= worker
    assert layer < worker
    assert not layer & set(pins.RUNTIME_PACKAGES)
    assert {"pydantic", "aws-lambda-powertools", "aws-xray-sdk", "wrapt"} <= layer
    assert "aws-lambda-powertools[tracer]==3.37.0" in generated[LISTS[1]].splitlines()


@pytest.mark.parametrize(
    ("package", "stale_lists"),
    [
        ("wrapt", set(LISTS)),  # in the layer and in the worker
        ("six", {"requirements/worker.txt"}),  # the runtime ships it: not in the layer
    ],
)
def test_a_changed_pin_makes_the_lists_that_hold_it_stale(
    installed: dict[str, pins.Installed],
    checkout: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    package: str,
    stale_lists: set[str],
) -> None:
    # GIVEN a pin changed in the lock, and that version installed
    _bump(checkout, package, "99.0")
    as_installed = {**installed, package: dataclasses.replace(installed[package], version="99.0")}
    monkeypatch.setattr(pins, "ROOT", checkout)
    monkeypatch.setattr(pins, "installed_distributions", lambda: as_installed)

    # WHEN the lists are checked (make pins-check)
    failed = pins.main(["--check"])

    # THEN the check fails naming each list that holds the package, and says what to run
    errors = capsys.readouterr().err
    assert failed == 1
    for path in LISTS:
        assert (f"pins: {path} is stale" in errors) == (path in stale_lists)
    assert "run `make pins`" in errors
    assert f"+{package}==99.0" in errors

    # AND `make pins` writes them, after which the check passes
    assert pins.main([]) == 0
    assert f"{package}==99.0" in (checkout / "requirements/worker.txt").read_text().splitlines()
    assert pins.main(["--check"]) == 0


def test_a_list_edited_by_hand_is_reported_stale(
    installed: dict[str, pins.Installed], checkout: Path
) -> None:
    # GIVEN a line dropped from the layer's list by hand
    layer = checkout / "layers/common/requirements.txt"
    layer.write_text(layer.read_text().replace("wrapt==2.5.2\n", ""), encoding="utf-8")

    # WHEN the lists are generated and compared
    messages = pins.stale(checkout, pins.generate(checkout, installed))

    # THEN only that list is stale, and the line it lacks is shown
    assert len(messages) == 1
    assert messages[0].startswith("layers/common/requirements.txt is stale")
    assert "+wrapt==2.5.2" in messages[0]


def test_a_pyproject_pin_other_than_the_locks_fails_naming_the_package(
    installed: dict[str, pins.Installed], checkout: Path
) -> None:
    pyproject = checkout / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('"ragas==0.4.3"', '"ragas==0.4.2"'), encoding="utf-8"
    )

    with pytest.raises(
        pins.PinError, match=r"pyproject.toml pins ragas==0.4.2 but .* pins ragas==0.4.3"
    ):
        pins.generate(checkout, installed)


def test_the_lock_is_exactly_the_closure_of_pyproject(
    installed: dict[str, pins.Installed], checkout: Path
) -> None:
    lock = checkout / "requirements/constraints.txt"
    text = lock.read_text()

    # A pin that nothing needs
    lock.write_text(text + "cfn-flip==1.3.0\n", encoding="utf-8")
    with pytest.raises(pins.PinError, match="pins cfn-flip, which nothing"):
        pins.generate(checkout, installed)

    # A package needed but not pinned
    lock.write_text(text.replace("wrapt==2.5.2\n", ""), encoding="utf-8")
    with pytest.raises(pins.PinError, match=r"does not pin wrapt \(needed by aws-xray-sdk"):
        pins.generate(checkout, installed)


def test_an_environment_other_than_the_lock_is_refused(
    installed: dict[str, pins.Installed], checkout: Path
) -> None:
    _bump(checkout, "wrapt", "99.0")  # the lock changed, .venv not reinstalled

    with pytest.raises(pins.PinError, match=r"not the lock: wrapt==99.0 \(installed: 2.5.2\)"):
        pins.generate(checkout, installed)


@pytest.mark.parametrize(
    ("marker", "extra", "holds"),
    [
        ('python_version < "3.11"', "", False),
        ('python_version >= "3.9"', "", True),
        ("python_version < '3.13'", "", True),
        ('python_full_version >= "3.8.1"', "", True),
        ('sys_platform == "win32"', "", False),
        ('platform_python_implementation != "PyPy"', "", True),
        ('(sys_platform == "linux" or sys_platform == "darwin") and extra == "tests"', "", False),
        (
            '(sys_platform == "linux" or sys_platform == "darwin") and extra == "tests"',
            "tests",
            True,
        ),
        ('extra == "Tracer"', "tracer", True),
        ('platform_machine == "x86_64" or platform_machine == "aarch64"', "", True),
        ('"linux" in sys_platform', "", True),
    ],
)
def test_markers_are_evaluated_for_lambdas_python(marker: str, extra: str, holds: bool) -> None:
    assert pins.marker_holds(marker, extra) is holds


def test_a_marker_it_cannot_evaluate_is_an_error_not_a_guess() -> None:
    with pytest.raises(pins.PinError, match="cannot evaluate"):
        pins.marker_holds('python_version ~= "3.12"', "")
    with pytest.raises(pins.PinError, match="cannot evaluate"):
        pins.marker_holds('platform_release < "5"', "")


def test_the_verdict_caches_ragas_version_is_the_pinned_one() -> None:
    # A new ragas renders other prompts: its verdicts must be keyed anew, so the version in
    # the cache's keys follows the pin.
    from rag_eval.domain.verdicts import RAGAS_VERSION

    lock = (Path(__file__).parents[1] / "requirements" / "constraints.txt").read_text()
    assert f"ragas=={RAGAS_VERSION}" in lock.splitlines()
