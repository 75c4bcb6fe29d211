"""The two set-up commands on a machine without Python 3.12: one clear line, nothing else."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("goal", ["demo", "test"])
def test_make_stops_at_once_naming_the_missing_python(tmp_path: Path, goal: str) -> None:
    # GIVEN the Makefile on a machine whose PATH has no python3.12 and no pyenv
    if any(Path(folder, "python3.12").exists() for folder in ("/usr/bin", "/bin")):
        pytest.skip("this machine has a python3.12 in /usr/bin or /bin")
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "python312", tmp_path / "scripts" / "python312")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}

    # WHEN the README's command is run
    done = subprocess.run(
        ["make", goal], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )

    # THEN make stops before doing anything, with one line saying what to install
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert "Python 3.12 not found" in line and "PYTHON312" in line
    assert not (tmp_path / ".venv").exists()
