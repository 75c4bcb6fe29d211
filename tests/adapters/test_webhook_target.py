"""Where a webhook may point: https to public addresses only, whatever the URL spells.

Name resolution is handed in (a fake getaddrinfo) wherever a test means a name: the check
itself is what is tested, and no test here opens a socket."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from rag_eval.adapters.webhook_target import WebhookClient, check_url
from rag_eval.domain.events import WebhookRefused


def resolving(*addresses: str) -> Any:
    """A getaddrinfo whose every name resolves to `addresses`."""

    def getaddrinfo(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        family = socket.AF_INET6
        return [
            (family if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    return getaddrinfo


def literal(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
    """getaddrinfo of an address literal: itself, no lookup."""
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, port))]


def refusal(url: str, resolve: Any = literal, allow_loopback: bool = False) -> str:
    with pytest.raises(WebhookRefused) as refused:
        check_url(url, allow_loopback, resolve)
    return str(refused.value)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://10.1.2.3/hook", "a private address"),
        ("https://192.168.0.10/hook", "a private address"),
        ("https://172.16.5.4/hook", "a private address"),
        ("https://127.0.0.1/hook", "a loopback address"),
        ("https://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("https://[::1]/hook", "a loopback address"),
        ("https://[fd00:ec2::254]/hook", "a cloud metadata address"),
        ("https://100.64.0.7/hook", "a shared (carrier-grade NAT) address"),
        ("https://[::ffff:10.0.0.1]/hook", "an IPv4-mapped private address"),
        ("https://0.0.0.0/hook", "an unspecified address"),
        ("https://224.0.0.1/hook", "a multicast address"),
        ("https://169.254.10.10/hook", "a link-local address"),
    ],
)
def test_an_address_that_is_not_public_is_refused_and_named(url: str, kind: str) -> None:
    assert refusal(url).endswith(kind)


def test_a_name_that_resolves_to_a_private_address_is_refused() -> None:
    message = refusal("https://internal.example.com/hook", resolving("10.0.0.5"))
    assert message == "host internal.example.com resolves to 10.0.0.5, a private address"


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    message = refusal("https://mixed.example.com/", resolving("93.184.216.34", "192.168.1.1"))
    assert "192.168.1.1, a private address" in message


def test_http_is_refused_unless_loopback_is_allowed() -> None:
    public = resolving("93.184.216.34")
    assert refusal("http://hooks.example.com/x", public) == ("scheme 'http': only https is allowed")
    assert check_url("http://hooks.example.com/x", True, public).scheme == "http"


def test_credentials_in_the_url_are_refused() -> None:
    message = refusal("https://user:secret@hooks.example.com/x", resolving("93.184.216.34"))
    assert "credentials" in message and "secret" not in message


def test_a_public_address_is_allowed_and_pinned_with_its_name_path_and_port() -> None:
    target = check_url(
        "https://hooks.example.com:8443/ragas/in?team=qa", resolve=resolving("93.184.216.34")
    )
    assert (target.address, target.host, target.port) == (
        "93.184.216.34",
        "hooks.example.com",
        8443,
    )
    assert target.path == "/ragas/in?team=qa"
    assert target.host_header == "hooks.example.com:8443"


def test_loopback_passes_only_where_the_deployment_allows_it() -> None:
    assert check_url("http://127.0.0.1:9000/hook", True, literal).address == "127.0.0.1"
    # Allowing loopback allows nothing else that is not public.
    assert refusal("http://10.0.0.1/hook", allow_loopback=True).endswith("a private address")
    assert refusal("https://127.0.0.1/hook").endswith("a loopback address")


def test_a_name_that_does_not_resolve_is_refused_saying_so() -> None:
    def unknown(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    assert refusal("https://nowhere.invalid/x", unknown).startswith(
        "host nowhere.invalid does not resolve"
    )


def test_a_slow_resolution_is_cut_short() -> None:
    import threading

    release = threading.Event()

    def slow(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        release.wait(5)
        return []

    with pytest.raises(WebhookRefused, match=r"did not resolve within 0\.05 s"):
        check_url("https://slow.example.com/", resolve=slow, timeout=0.05)
    release.set()


def test_every_delivery_checks_the_url_again() -> None:
    # A name that resolved to a public address at submission, private by delivery time.
    client = WebhookClient(resolve=resolving("10.9.9.9"))
    with pytest.raises(WebhookRefused, match=r"10\.9\.9\.9, a private address"):
        client.post("https://rebinding.example.com/hook", b"{}", {})
