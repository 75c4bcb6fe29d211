"""Where a webhook may point, and the POST to it: guarded against request forgery.

A job's `notify.url` is the caller's, and the service calls it from inside AWS: it must not
reach the service's own network, the instance metadata, or anything not public. So, at
submission and again before every delivery (a name may resolve elsewhere by then):

- https only; http only where loopback is allowed (the local stack, WEBHOOK_ALLOW_LOOPBACK);
- no credentials in the URL (user:password@); any port;
- the host is resolved (getaddrinfo, bounded in time) and refused when ANY of its addresses
  is private, loopback, link-local, multicast, reserved, unspecified, shared (100.64/10),
  an IPv4-mapped one of these, or a metadata address (169.254.169.254, fd00:ec2::254);
  loopback passes only where allowed.

The POST then connects to the address that was checked, never resolving the name again (a
DNS answer that changes between the check and the call cannot slip through), and sends
the name as Host and as the TLS server name, so the certificate is checked against it.
Redirects are not followed. Standard library only: the API imports the check.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rag_eval.domain.events import WebhookRefused

RESOLVE_TIMEOUT_SECONDS = 3.0
POST_TIMEOUT_SECONDS = 10.0
_METADATA = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254"))
_SHARED = ipaddress.ip_network("100.64.0.0/10")

Resolve = Callable[..., list[tuple[Any, ...]]]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Target:
    """A checked webhook URL: what to connect to, and what to say there."""

    scheme: str
    host: str  # the name: Host header and TLS server name
    port: int
    path: str  # with its query
    address: str  # the checked address to connect to

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def refused_kind(address: IpAddress, allow_loopback: bool = False) -> str | None:
    """Why a webhook may not call `address` ("a private address"...), or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        kind = refused_kind(address.ipv4_mapped, allow_loopback)
        return f"an IPv4-mapped {kind.removeprefix('a ').removeprefix('an ')}" if kind else None
    checks = (
        (address in _METADATA, "a cloud metadata address"),
        (address.is_loopback and not allow_loopback, "a loopback address"),
        (address.is_loopback, ""),  # allowed: no further check
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "an unspecified address"),
        (address in _SHARED, "a shared (carrier-grade NAT) address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "a non-public address"),
    )
    for hit, kind in checks:
        if hit:
            return kind or None
    return None


def check_url(
    url: str,
    allow_loopback: bool = False,
    resolve: Resolve = socket.getaddrinfo,
    timeout: float = RESOLVE_TIMEOUT_SECONDS,
) -> Target:
    """The URL's target, every address of its host checked; WebhookRefused saying why."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookRefused(f"not a URL: {exc}") from None
    allowed = "https" if not allow_loopback else "https or http"
    if parts.scheme not in (("https", "http") if allow_loopback else ("https",)):
        raise WebhookRefused(f"scheme {parts.scheme or 'none'!r}: only {allowed} is allowed")
    if parts.username is not None or parts.password is not None:
        raise WebhookRefused("the URL carries credentials (user:password@); none are allowed")
    host = parts.hostname
    if not host:
        raise WebhookRefused("the URL names no host")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = _resolved(host, port, resolve, timeout)
    for address in addresses:
        kind = refused_kind(address, allow_loopback)
        if kind:
            raise WebhookRefused(f"host {host} resolves to {address}, {kind}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, str(addresses[0]))


def _resolved(host: str, port: int, resolve: Resolve, timeout: float) -> list[IpAddress]:
    """Every address of `host`, resolved in a thread so that a slow DNS answer costs at
    most `timeout` seconds (getaddrinfo takes no timeout of its own)."""
    answer: list[Any] = []

    def run() -> None:
        try:
            answer.append(resolve(host, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:
            answer.append(exc)

    thread = threading.Thread(target=run, name="webhook-resolve", daemon=True)
    thread.start()
    thread.join(timeout)
    if not answer:
        raise WebhookRefused(f"host {host} did not resolve within {timeout:g} s")
    if isinstance(answer[0], Exception):
        raise WebhookRefused(f"host {host} does not resolve ({answer[0]})")
    # An IPv6 scope (fe80::1%eth0) is not part of the address.
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in answer[0]]
    if not addresses:
        raise WebhookRefused(f"host {host} has no address")
    return addresses


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST `body` to the checked address; the answer's status (redirects not followed).
    OSError when the address cannot be reached, TLS fails, or it times out."""
    import http.client
    import ssl

    sock = socket.create_connection((target.address, target.port), timeout=timeout)
    try:
        if target.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=target.host)
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
        connection.sock = sock  # connected already: the name is not resolved again
        connection.request(
            "POST", target.path, body=body, headers={**headers, "Host": target.host_header}
        )
        response = connection.getresponse()
        response.read(65_536)  # the answer's body is not used; a little is read politely
        return response.status
    except http.client.HTTPException as exc:  # a malformed answer: as good as none
        raise OSError(f"bad answer: {type(exc).__name__}") from exc
    finally:
        sock.close()


class WebhookClient:
    """The `WebhookSender` port: the URL checked, then the POST pinned to its address."""

    def __init__(
        self,
        allow_loopback: bool = False,
        resolve: Resolve = socket.getaddrinfo,
        timeout: float = POST_TIMEOUT_SECONDS,
    ) -> None:
        self._allow_loopback = allow_loopback
        self._resolve = resolve
        self._timeout = timeout

    def check(self, url: str) -> None:
        check_url(url, self._allow_loopback, self._resolve)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        target = check_url(url, self._allow_loopback, self._resolve)
        return post(target, body, headers, self._timeout)
