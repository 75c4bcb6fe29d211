"""What a container image's task root holds, counted: its files and each distribution's
share. Standard library only: scripts/worker_image.py runs it inside the worker's image, on
the image's own Python, and bench/package_size.py reads its figures."""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path

MB = 1024 * 1024
GB = 1024 * MB
IMAGE_LIMIT_GB = 10  # Lambda's limit on a container image, uncompressed


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
