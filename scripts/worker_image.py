"""The worker's image as `sam build` made it: its size against Lambda's 10 GB image limit.

Usage: python3.12 scripts/worker_image.py [BUILD_DIR]      (make sam-build-image runs it)

Reads the worker's image from the built template (BUILD_DIR/template.yaml, default
.aws-sam/build-image), prints its size and its base image's (`docker image inspect`: the
uncompressed size, which is what Lambda's limit counts), the task root's, and the largest
distributions in it. Those are counted inside the image (scripts/image_sizes.py, run by the
image's own Python on its ${LAMBDA_TASK_ROOT}). Exits 1 if the image is over the
limit or cannot be read.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from image_sizes import GB, IMAGE_LIMIT_GB, MB  # noqa: E402

FUNCTION = "WorkerFunction"
TOP = 10
IN_IMAGE = r"""
import json, os, sys
from pathlib import Path
sys.path.insert(0, "/checks")
import image_sizes
task_root = Path(os.environ["LAMBDA_TASK_ROOT"])
owned = image_sizes.distribution_files(task_root)
files = list(image_sizes.walk_files(task_root))
print(json.dumps({
    "task_root": str(task_root),
    "files": len(files),
    "without_bytecode": sum(path.stat().st_size for path in files),
    "with_bytecode": sum(p.stat().st_size for p in task_root.rglob("*") if p.is_file()),
    "distributions": {
        name: sum(path.stat().st_size for path in paths) for name, paths in owned.items()
    },
}))
"""


def image_of(build_dir: Path) -> str:
    """The ImageUri `sam build` wrote for the worker into the built template."""
    template = (build_dir / "template.yaml").read_text(encoding="utf-8")
    start = template.index(f"\n  {FUNCTION}:")
    found = re.search(r"^\s+ImageUri: (\S+)$", template[start:], re.MULTILINE)
    if not found:
        raise SystemExit(f"no ImageUri for {FUNCTION} in {build_dir / 'template.yaml'}")
    return found.group(1)


def docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"docker {args[0]} failed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()


def inspect(image: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = json.loads(docker("image", "inspect", image))
    return found[0]


def measure(build_dir: Path) -> dict[str, Any]:
    """The built worker image's size, its base's, and its task root counted inside it."""
    image = image_of(build_dir)
    details = inspect(image)
    base = "public.ecr.aws/lambda/python:3.12"
    label = details["Config"].get("Labels") or {}
    kind = "stand-in" if any(key.startswith("org.ragas-serverless.") for key in label) else "AWS's"
    counted: dict[str, Any] = json.loads(
        docker(
            "run",
            "--rm",
            "--network",
            "none",
            "--volume",
            f"{ROOT / 'scripts'}:/checks:ro",
            "--entrypoint",
            "python",
            image,
            "-c",
            IN_IMAGE,
        )
    )
    return counted | {
        "image": image,
        "size": int(details["Size"]),
        "base": base,
        "base_kind": kind,
        "base_size": int(inspect(base)["Size"]),
    }


def main() -> int:
    build_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".aws-sam" / "build-image"
    counted = measure(build_dir)
    image, size, base = counted["image"], counted["size"], counted["base"]
    limit = IMAGE_LIMIT_GB * GB
    print(
        f"{image}: {size / MB:.0f} MB uncompressed ({size / GB:.2f} GB), "
        f"{100 * size / limit:.1f}% of Lambda's {IMAGE_LIMIT_GB} GB image limit"
    )
    print(f"  base {base} ({counted['base_kind']}): {counted['base_size'] / MB:.0f} MB")
    print(
        f"  task root {counted['task_root']}: {counted['without_bytecode'] / MB:.0f} MB without "
        f"__pycache__ ({counted['files']} files, {len(counted['distributions'])} distributions), "
        f"{counted['with_bytecode'] / MB:.0f} MB with byte-code"
    )
    print("  largest distributions:")
    ranked = sorted(counted["distributions"].items(), key=lambda item: -item[1])
    for name, bytes_ in ranked[:TOP]:
        print(f"    {name:<24} {bytes_ / MB:7.1f} MB")
    if size > limit:
        print(f"the image is over Lambda's {IMAGE_LIMIT_GB} GB limit")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
