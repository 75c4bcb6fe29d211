"""Package size: each function unzipped with its layers, against Lambda's limits.

    .venv/bin/python -m bench.package_size

Runs `make package-sizes` (`sam build` of the zip functions and CommonLayer, offline) and
measures `.aws-sam/build`: a zip function and all its layers must fit in 250 MB unzipped.
The worker is a container image (10 GB limit, base image included): the one `make
sam-build-image` built, measured by scripts/worker_image.py (the image, and its task root
without and with byte-code).
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
    import worker_image  # type: ignore[import-not-found]

    return package_sizes, worker_image


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


def image_row(worker_image) -> list:
    """The worker's image as `make sam-build-image` built it (Docker)."""
    built = ROOT / ".aws-sam" / "build-image"
    if not (built / "template.yaml").is_file():
        sys.exit("the worker's image is not built: run make sam-build-image first")
    counted = worker_image.measure(built)
    plain, compiled, size = counted["without_bytecode"], counted["with_bytecode"], counted["size"]
    return [
        "WorkerFunction",
        f"image ({counted['base_kind']} base)",
        f"{size / MB:.0f} MB image; task root {plain / MB:.0f} MB "
        f"({compiled / MB:.0f} MB with byte-code)",
        f"{IMAGE_LIMIT_MB // 1024} GB",
        f"{(IMAGE_LIMIT_MB * MB - size) / MB:.0f} MB; the task root is "
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
    package_sizes, worker_image = _scripts()
    rows = [*zip_rows(package_sizes), image_row(worker_image)]
    print(table(["function", "package type", "unzipped size", "limit", "headroom"], rows))


if __name__ == "__main__":
    main()
