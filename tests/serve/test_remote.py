"""``--allow-remote`` fetches no internal address (SSRF): every host is resolved and refused when
any of its addresses is loopback, private, link-local (cloud metadata), multicast, reserved or
unspecified; every redirect is checked the same way; ``--allow-domain`` and the redirect limit
hold. Each refusal goes through the real application, and two witnesses prove that nothing
reached the refused address: the refused local server's access log stays empty and a Python
audit hook sees no ``socket.connect`` to it."""

from __future__ import annotations

import http.server
import ipaddress
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.serve.conftest import Media
from tests.serve.inprocess import chat_body, fake_client, refused
from videopipe.serve.remote import refusal_reason

_CONNECTS: list[tuple[str, int]] = []
_WATCH = threading.Event()


def _audit(event: str, args: tuple) -> None:
    if _WATCH.is_set() and event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and len(address) >= 2:
            _CONNECTS.append((str(address[0]), int(address[1])))


sys.addaudithook(_audit)  # cannot be removed: it records only while _WATCH is set


@dataclass
class Site:
    """A local HTTP server: ``url``, and the paths it was asked for (its access log)."""

    url: str
    host: str
    port: int
    log: list[str] = field(default_factory=list)


def _site(directory: Path, host: str) -> tuple[Site, http.server.ThreadingHTTPServer]:
    site: Site

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: object, **kw: object) -> None:
            super().__init__(*a, directory=str(directory), **kw)  # type: ignore[arg-type]

        def do_GET(self) -> None:
            site.log.append(self.path)
            parts = urlsplit(self.path)
            if parts.path == "/redirect":  # /redirect?to=URL
                self.send_response(302)
                self.send_header("Location", parse_qs(parts.query)["to"][0])
                self.end_headers()
                return
            if parts.path == "/loop":
                self.send_response(302)
                self.send_header("Location", "/loop")
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
    port = httpd.server_address[1]
    site = Site(f"http://{host}:{port}", host, port)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return site, httpd


@pytest.fixture
def sites(media: Media) -> Iterator[tuple[Site, Site]]:
    """``public``: on 127.0.0.1, whose port the tests trust as if it were a public address;
    ``internal``: on 127.0.0.2, a loopback service nothing may reach."""
    public, a = _site(media.allowed, "127.0.0.1")
    internal, b = _site(media.allowed, "127.0.0.2")
    _CONNECTS.clear()
    _WATCH.set()
    yield public, internal
    _WATCH.clear()
    a.shutdown()
    b.shutdown()


def _no_contact(site: Site) -> None:
    assert site.log == [], site.log
    assert (site.host, site.port) not in _CONNECTS and not any(h == site.host for h, _ in _CONNECTS)


def trusting(site: Site) -> dict[str, object]:
    """Settings that fetch remote URLs and treat ``site`` (its address and port only) as public."""
    return {"allow_remote": True, "remote_trusted_for_tests": (f"{site.host}:{site.port}",)}


def test_the_rules_name_every_internal_range() -> None:
    internal = [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.100.100.200", "169.254.169.254",
        "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1",
        "fd00:ec2::254", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::",
        "64:ff9b::a00:1",
    ]  # fmt: skip
    for a in internal:
        assert refusal_reason(ipaddress.ip_address(a)) is not None, a
    for a in ("93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"):
        assert refusal_reason(ipaddress.ip_address(a)) is None, a


def test_internal_addresses_are_refused_before_any_connection(
    media: Media, tmp_path: Path, sites: tuple[Site, Site]
) -> None:
    public, internal = sites
    p = internal.port
    urls = [
        f"{internal.url}/red.mp4",  # loopback
        f"http://localhost:{p}/red.mp4",  # a name that resolves to loopback
        f"http://127.1:{p}/red.mp4",  # the short form
        f"http://[::1]:{p}/red.mp4",
        f"http://[::ffff:127.0.0.2]:{p}/red.mp4",  # IPv4 inside IPv6
        f"http://0.0.0.0:{p}/red.mp4",  # unspecified (reaches this machine)
        "http://169.254.169.254/latest/meta-data/",  # the cloud metadata address
        "http://[fe80::1]/v.mp4",
        "http://10.0.0.1/v.mp4",
        "http://192.168.0.1/v.mp4",
        "http://224.0.0.1/v.mp4",
        "https://[fd00:ec2::254]/v.mp4",
    ]
    with fake_client(tmp_path, allow_remote=True) as c:
        for url in urls:
            err = refused(
                c.post("/v1/chat/completions", json=chat_body(url)), 403, code="remote_address_refused"
            )
            assert "only public addresses" in err["message"], url
        assert c.app.state.worker.counters.model_stage_runs == 0
    _no_contact(internal)
    assert _CONNECTS == [] and public.log == []


def test_a_redirect_to_an_internal_address_is_refused(
    media: Media, tmp_path: Path, sites: tuple[Site, Site]
) -> None:
    public, internal = sites
    targets = [
        f"{internal.url}/red.mp4",
        f"http://localhost:{internal.port}/red.mp4",  # loopback, another port of the trusted address
        f"http://127.0.0.1:{internal.port}/red.mp4",
    ]
    with fake_client(tmp_path, **trusting(public)) as c:
        for target in targets:
            url = f"{public.url}/redirect?to={target}"
            err = refused(
                c.post("/v1/chat/completions", json=chat_body(url)), 403, code="remote_address_refused"
            )
            assert "loopback address" in err["message"]
        # a trusted redirect is followed: the route works, so the refusals above are the rule's
        ok = c.post("/v1/chat/completions", json=chat_body(f"{public.url}/redirect?to=/red.mp4"))
        assert ok.status_code == 200, ok.text
    _no_contact(internal)
    assert not any(port == internal.port for _, port in _CONNECTS)
    assert [p.split("?")[0] for p in public.log] == ["/redirect"] * 4 + ["/red.mp4"]


def test_the_redirect_limit(media: Media, tmp_path: Path, sites: tuple[Site, Site]) -> None:
    public, _ = sites
    with fake_client(tmp_path, remote_max_redirects=2, **trusting(public)) as c:
        err = refused(
            c.post("/v1/chat/completions", json=chat_body(f"{public.url}/loop")),
            502,
            code="remote_too_many_redirects",
        )
        assert "more than 2 times" in err["message"]
    assert public.log == ["/loop"] * 3  # the URL and two redirects; the third is not followed


def _resolve_as(monkeypatch: pytest.MonkeyPatch, name: str, address: str) -> None:
    """``name`` resolves to ``address`` (only: no IPv6 twin, as ``localhost`` may have)."""
    import socket

    real = socket.getaddrinfo

    def lookup(host: str, *a: object, **kw: object) -> list:
        return real(address if host == name else host, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)


def test_allow_domain_limits_the_hosts(
    media: Media, tmp_path: Path, sites: tuple[Site, Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    public, _ = sites
    _resolve_as(monkeypatch, "cdn.videos.test", public.host)
    with fake_client(tmp_path, allow_domains=("videos.example.com",), **trusting(public)) as c:
        for url in (f"{public.url}/red.mp4", f"http://localhost:{public.port}/red.mp4"):
            err = refused(
                c.post("/v1/chat/completions", json=chat_body(url)), 403, code="remote_domain_not_allowed"
            )
            assert "--allow-domain" in err["message"]
    with fake_client(tmp_path, allow_domains=("videos.test",), **trusting(public)) as c:  # and below it
        ok = c.post("/v1/chat/completions", json=chat_body(f"http://cdn.videos.test:{public.port}/red.mp4"))
        assert ok.status_code == 200, ok.text
    assert public.log == ["/red.mp4"]  # only the allowed host was fetched from


def test_the_connection_goes_to_the_checked_address(
    media: Media, tmp_path: Path, sites: tuple[Site, Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is resolved once: a resolver that answers differently the second time (DNS
    rebinding) cannot move the connection, and the request still names the host."""
    public, internal = sites
    import socket

    answers = iter([public.host, internal.host, internal.host])
    real = socket.getaddrinfo

    def rebinding(host: str, *a: object, **kw: object) -> list:
        if host == "videos.test":
            return real(next(answers), *a, **kw)  # type: ignore[arg-type]
        return real(host, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with fake_client(tmp_path, **trusting(public)) as c:
        ok = c.post("/v1/chat/completions", json=chat_body(f"http://videos.test:{public.port}/red.mp4"))
        assert ok.status_code == 200, ok.text
    _no_contact(internal)
    assert public.log == ["/red.mp4"] and (public.host, public.port) in _CONNECTS


def test_the_real_server_refuses_loopback_and_bad_domains(
    videopipe, media: Media, tmp_path: Path, sites: tuple[Site, Site]
) -> None:
    """``videopipe serve --allow-remote`` as users run it: a loopback URL and a redirect to a
    loopback port are 403, and the local servers were never asked."""
    import httpx

    from tests.cli.test_usage_errors import _one_line_error
    from tests.serve.conftest import start_server, stop_server

    _one_line_error(
        videopipe("serve", "--model", "fake", "--allow-remote", "--allow-domain", "a/b"), "--allow-domain"
    )
    public, internal = sites
    server = start_server(
        "--model", "fake", "--device", "cpu", "--allow-remote", "--remote-max-redirects", "1",
        log=tmp_path / "serve.log",
    )  # fmt: skip
    try:
        for url in (f"{internal.url}/red.mp4", f"{public.url}/redirect?to={internal.url}/red.mp4"):
            r = httpx.post(server.url + "/v1/chat/completions", json=chat_body(url), timeout=30)
            refused(r, 403, code="remote_address_refused")
    finally:
        stop_server(server)
    assert internal.log == [] and public.log == []


def test_https_connects_to_the_checked_ip_with_the_name_in_host_and_sni(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the HTTP library is asked for (an HTTPS server with a real certificate is not at
    hand): the URL carries the checked address, ``Host`` and TLS's SNI the name, no proxy."""
    import asyncio

    import httpx

    from videopipe.serve.remote import RemoteFetcher

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"video bytes")

    real = httpx.AsyncClient

    def client(**kw: object) -> httpx.AsyncClient:
        assert kw.get("trust_env") is False and kw.get("follow_redirects") is False
        return real(transport=httpx.MockTransport(handler))

    _resolve_as(monkeypatch, "videos.test", "127.0.0.1")
    monkeypatch.setattr(httpx, "AsyncClient", client)
    fetcher = RemoteFetcher(trusted=("127.0.0.1:443",))
    path = asyncio.run(fetcher.fetch("https://videos.test/v/clip.mp4?x=1", tmp_path))
    assert path.read_bytes() == b"video bytes" and path.suffix == ".mp4"
    (request,) = seen
    assert str(request.url) == "https://127.0.0.1/v/clip.mp4?x=1"
    assert request.headers["host"] == "videos.test"
    assert request.extensions["sni_hostname"] == "videos.test"
