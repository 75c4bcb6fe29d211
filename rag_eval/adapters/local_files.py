"""A folder standing in for the bucket (`rag-eval score` writes its run folders there)."""

from __future__ import annotations

from pathlib import Path


class LocalObjectStore:
    """An `ObjectStore` on a folder: key `a/b.csv` -> `<root>/a/b.csv`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, key: str, body: bytes, content_type: str) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)

    def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def presign(self, key: str, expires_in: int) -> str:
        return (self.root / key).resolve().as_uri()
