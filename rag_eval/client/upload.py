"""A file to S3 through a presigned POST, streamed: a dataset may be a gigabyte.

The multipart body is the form fields the API handed out, then the file (S3 reads the fields
up to `file` and takes the rest as the object). Its length is known up front, so it goes
with an exact Content-Length in chunks: the file is never held in memory. The URL and its
policy are the authorisation; nothing else is added to the request.
"""

from __future__ import annotations

import base64
import csv
import http.client
import secrets
import urllib.request
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

CHUNK_BYTES = 1024 * 1024
_MAX_ANSWER_BYTES = 64 * 1024

Progress = Callable[[int, int], None]


def multipart_envelope(fields: dict[str, str], filename: str, boundary: str) -> tuple[bytes, bytes]:
    """What goes before and after the file's bytes in the form body."""
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'.encode()
        + str(value).encode("utf-8")
        + b"\r\n"
        for name, value in fields.items()
    )
    head += (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{_quoted(filename)}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head, f"\r\n--{boundary}--\r\n".encode()


def _quoted(text: str) -> str:
    # A quote or line break would end the header early.
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


def post_form(
    url: str,
    fields: dict[str, str],
    path: Path,
    *,
    timeout: float,
    on_progress: Progress | None = None,
    user_agent: str = "rag-eval-client/0.1",
) -> tuple[int, bytes]:
    """POST the form with the file last; the answer's status and body, whatever they are.

    on_progress(sent, total) counts the file's bytes, after each chunk. Raises OSError
    when no answer came (the connection failed or was dropped before one).
    """
    path = Path(path)
    total = path.stat().st_size
    boundary = "rag-eval-" + secrets.token_hex(16)
    head, tail = multipart_envelope(fields, path.name, boundary)
    connection, target, proxy_headers = _connection(url, timeout)
    try:
        connection.putrequest("POST", target, skip_accept_encoding=True)
        for name, value in proxy_headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(len(head) + total + len(tail)))
        connection.putheader("User-Agent", user_agent)
        connection.endheaders()
        try:
            connection.send(head)
            _send_file(connection, path, total, on_progress)
            connection.send(tail)
        except (BrokenPipeError, ConnectionResetError):
            # S3 may refuse before it has read the body (an expired policy, a file over the
            # limit) and close the connection: its answer, when it got out, says why.
            pass
        response = connection.getresponse()
        # Success is an empty body; an error is a short XML document.
        return response.status, response.read(_MAX_ANSWER_BYTES)
    finally:
        connection.close()


def _send_file(
    connection: http.client.HTTPConnection, path: Path, total: int, on_progress: Progress | None
) -> None:
    sent = 0
    with path.open("rb") as handle:
        while sent < total:
            chunk = handle.read(min(CHUNK_BYTES, total - sent))
            if not chunk:
                # The Content-Length is already promised; fewer bytes would hang the request.
                raise OSError(f"{path} shrank while it was being uploaded")
            connection.send(chunk)
            sent += len(chunk)
            if on_progress:
                on_progress(sent, total)


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str, dict[str, str]]:
    """A connection for the URL through the proxy urllib would use for it (environment
    variables, no_proxy); the request target to send on it; headers the proxy needs."""
    parts = urlsplit(url)
    host = _host(parts.hostname, url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    kind = http.client.HTTPSConnection if secure else http.client.HTTPConnection
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return kind(host, port, timeout=timeout), target, {}
    via = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    proxy_host = _host(via.hostname, f"the {parts.scheme} proxy setting")  # it may hold a password
    auth = {}
    if via.username:
        token = f"{unquote(via.username)}:{unquote(via.password or '')}".encode()
        auth["Proxy-Authorization"] = "Basic " + base64.b64encode(token).decode()
    if secure:
        # TLS to S3 inside a CONNECT tunnel through the proxy.
        connection = kind(proxy_host, via.port or 80, timeout=timeout)
        connection.set_tunnel(host, port, headers=auth)
        return connection, target, {}
    # A plain-HTTP proxy takes the absolute URL as the target.
    return http.client.HTTPConnection(proxy_host, via.port or 80, timeout=timeout), url, auth


def _host(hostname: str | None, where: str) -> str:
    # An HTTPException, so the upload says it could not be sent rather than crashing.
    if not hostname:
        raise http.client.InvalidURL(f"no host in {where}")
    return hostname


def s3_error(body: bytes) -> dict[str, str]:
    """The fields of an S3 `<Error>` answer (Code, Message, MaxSizeAllowed, ...), or {}."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return {}
    return {child.tag: (child.text or "").strip() for child in root}


def count_rows(path: Path) -> int | None:
    """The samples a .csv (rows under its header) or JSON Lines file (non-blank lines)
    holds, read as a stream; None when a CSV cannot be parsed (its reader will say why)."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        try:
            return max(0, sum(1 for row in csv.reader(handle) if row) - 1)
        except csv.Error:
            return None


def csv_header(path: Path) -> list[str]:
    with Path(path).open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        return next(csv.reader(handle), [])


def human_bytes(count: int) -> str:
    """1536 -> "1.5 KiB"; binary units, as the limits are set."""
    size = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{count:,} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
