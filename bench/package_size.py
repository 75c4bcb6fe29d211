"""Package size: each function unzipped with its layers, against Lambda's limits.

    .venv/bin/python -m bench.package_size

Runs `make package-sizes` (`sam build` of the zip functions and CommonLayer, offline) and
measures `.aws-sam/build`: a zip function and all its layers must fit in 250 MB unzipped.
The worker is a container image (10 GB limit, base image included); its task root is laid
out without Docker by scripts/worker_check.py in `.build/worker-image` (dependencies cached
until requirements/worker.txt changes), and measured here without and with byte-code.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from bench.common import ROOT, table

MB = 1024 * 1024
ZIP_LIMIT_MB = 250
IMAGE_LIMIT_MB = 10 * 1024
BUILD = ROOT / ".aws-sam" / "build"


def _scripts():
    sys.path.insert(0, str(ROOT / "scripts"))
    import package_sizes  # type: ignore[import-not-found]  # scripts/, put on the path above
    import worker_check  # type: ignore[import-not-found]

    return package_sizes, worker_check


def zip_rows(package_sizes) -> list[list]:
    resources, sizes = package_sizes.built_artifacts(BUILD)
    rows = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        if properties.get("PackageType") == "Image" or logical_id not in sizes:
            continue
        layers = [layer["Ref"] for layer in properties.get("Layers", [])]
        total = sizes[logical_id] + sum(sizes.get(layer, 0) for layer in layers)
        parts = [f"code {_size(sizes[logical_id])}"]
        parts += [f"{layer} {_size(sizes.get(layer, 0))}" for layer in layers]
        headroom = ZIP_LIMIT_MB * MB - total
        rows.append(
            [
                logical_id,
                "zip + layers",
                f"{total / MB:.1f} MB ({' + '.join(parts)})",
                f"{ZIP_LIMIT_MB} MB",
                f"{headroom / MB:.0f} MB ({headroom / (ZIP_LIMIT_MB * MB):.0%})",
            ]
        )
    return rows


def _size(size: int) -> str:
    return f"{size / MB:.1f} MB" if size >= MB / 10 else f"{size / 1024:.0f} kB"


def image_row(worker_check) -> list:
    root = worker_check.TASK_ROOT
    if not (root.is_dir() and worker_check.STAMP.is_file()):
        # Lay it out as `make worker-check` does (installs the dependencies once).
        worker_check.build_task_root(worker_check.python312())
    plain = sum(path.stat().st_size for path in worker_check.walk_files(root))
    compiled = sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
    return [
        "WorkerFunction",
        "image (task root)",
        f"{plain / MB:.0f} MB ({compiled / MB:.0f} MB with byte-code)",
        f"{IMAGE_LIMIT_MB // 1024} GB with the base image",
        f"{(IMAGE_LIMIT_MB * MB - compiled) / MB:.0f} MB before the base image; "
        f"{plain / MB / ZIP_LIMIT_MB:.1f}x the zip limit",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="measure the last build")
    args = parser.parse_args(argv)
    if not args.no_build:
        done = subprocess.run(
            ["make", "package-sizes"], cwd=ROOT, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            sys.exit(f"make package-sizes failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    package_sizes, worker_check = _scripts()
    rows = [*zip_rows(package_sizes), image_row(worker_check)]
    print(table(["function", "package type", "unzipped size", "limit", "headroom"], rows))


if __name__ == "__main__":
    main()
