"""A folder standing in for the bucket (`rag-eval score` writes its run folders there)."""

from __future__ import annotations

from collections.abc import Iterator
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

    def find(self, key: str) -> bytes | None:
        path = self.root / key
        return path.read_bytes() if path.is_file() else None

    def lines(self, key: str) -> Iterator[bytes]:
        with (self.root / key).open("rb") as handle:
            yield from handle

    def get_range(self, key: str, start: int, length: int) -> bytes:
        with (self.root / key).open("rb") as handle:
            handle.seek(start)
            return handle.read(max(0, length))

    def size(self, key: str) -> int | None:
        path = self.root / key
        return path.stat().st_size if path.is_file() else None


class DiskVerdictStore:
    """A `VerdictStore` in a folder, for `rag-eval score`: repeated runs on this machine
    ask the judge only what changed. diskcache keeps it safe for concurrent processes and
    expires entries after `ttl_days`."""

    def __init__(self, directory: Path, ttl_days: int = 30) -> None:
        from diskcache import Cache

        self._cache = Cache(str(directory))
        self._ttl_seconds = ttl_days * 86_400

    def get(self, key: str) -> bytes | None:
        value = self._cache.get(key)
        return value if isinstance(value, bytes) else None

    def put(self, key: str, value: bytes) -> None:
        self._cache.set(key, value, expire=self._ttl_seconds)

    def present(self, keys: list[str]) -> set[str]:
        return {key for key in keys if key in self._cache}

    def close(self) -> None:
        self._cache.close()
