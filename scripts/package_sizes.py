"""Unzipped size of each function and layer that `sam build` made, against Lambda's limit.

Usage: python scripts/package_sizes.py [BUILD_DIR]   (default .aws-sam/build)

A zip function and all its layers must fit in 250 MB unzipped. Reads the built template to
know which layers each function loads. Exits 1 if one does not fit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

LIMIT_MB = 250
MB = 1024 * 1024


def tree_size(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def built_artifacts(build: Path) -> tuple[dict, dict[str, int]]:
    """The built template's resources, and the unzipped size of each built artifact."""
    resources = yaml.safe_load((build / "template.yaml").read_text(encoding="utf-8"))["Resources"]
    sizes = {}
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        artifact = properties.get("CodeUri") or properties.get("ContentUri")
        if isinstance(artifact, str) and (build / artifact).is_dir():
            sizes[logical_id] = tree_size(build / artifact)
    return resources, sizes


def main(argv: list[str]) -> int:
    build = Path(argv[1] if len(argv) > 1 else ".aws-sam/build")
    resources, sizes = built_artifacts(build)

    print(f"{'resource':<16} {'kind':<9} {'unzipped':>10} {'with layers':>12}  limit {LIMIT_MB} MB")
    too_big = False
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::LayerVersion" and logical_id in sizes:
            print(f"{logical_id:<16} {'layer':<9} {sizes[logical_id] / MB:>7.2f} MB")
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        if resource["Properties"].get("PackageType") == "Image":
            print(f"{logical_id:<16} {'image':<9} {'not measured here (a container image)':>24}")
            continue
        if logical_id not in sizes:
            print(f"{logical_id:<16} {'function':<9} {'not built':>10}")
            continue
        layers = [layer["Ref"] for layer in resource["Properties"].get("Layers", [])]
        total = sizes[logical_id] + sum(sizes.get(layer, 0) for layer in layers)
        fits = total <= LIMIT_MB * MB
        too_big = too_big or not fits
        print(
            f"{logical_id:<16} {'function':<9} {sizes[logical_id] / MB:>7.2f} MB"
            f" {total / MB:>9.2f} MB  {'ok' if fits else 'TOO BIG'}"
        )
    return 1 if too_big else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
