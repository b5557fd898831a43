"""Fetching a remote video (``--allow-remote``) without reaching what the server's host can
reach: the SSRF rules.

For the URL and for every redirect it answers with (followed here, one hop at a time):

1. the scheme is ``http`` or ``https`` and the host, when ``--allow-domain`` names any, is one
   of them or below one (``videos.example.com`` allows ``cdn.videos.example.com``);
2. the host is resolved once, and refused when *any* of its addresses is not a public unicast
   address: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), shared (100.64/10),
   link-local (169.254/16 with the cloud metadata address 169.254.169.254, fe80::/10),
   multicast, reserved, unspecified, or an IPv4 address inside IPv6 (``::ffff:127.0.0.1``,
   6to4, NAT64) that is one of those;
3. the connection goes to the address that was checked: the request's URL carries the IP, the
   ``Host`` header and TLS's SNI and certificate check carry the name, and no proxy from the
   environment is used (no second DNS lookup, so a name that resolves differently the second
   time, DNS rebinding, cannot move the connection);
4. at most ``max_redirects`` redirects, ``max_bytes`` bytes (by ``Content-Length`` and while
   streaming), ``timeout_s`` seconds for everything (DNS included).

A refusal is an :class:`ApiError` (403 ``remote_address_refused`` / ``remote_domain_not_allowed``,
502 ``remote_too_many_redirects``, 413, 504) raised before any connection to the refused address.
``trusted`` lists ``ADDRESS:PORT`` pairs let through anyway: a field for tests (a local server
on ``127.0.0.1:PORT``; every other port there stays refused), not a command-line option.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit, urlunsplit

from videopipe.errors import ConfigError
from videopipe.serve.errors import ApiError

if TYPE_CHECKING:
    import httpx

    from videopipe.serve.settings import ServeSettings

__all__ = ["RemoteFetcher", "allowed_domains", "refusal_reason"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (Alibaba's metadata: 100.100.100.200)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_REDIRECTS = (301, 302, 303, 307, 308)


def refusal_reason(addr: IPAddress) -> str | None:
    """Why ``addr`` may not be fetched from (``"loopback"``, ``"private"``, ...), or None when it
    is a public unicast address."""
    if isinstance(addr, ipaddress.IPv6Address):
        inner = addr.ipv4_mapped or addr.sixtofour
        if inner is None and addr in _NAT64:
            inner = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if inner is not None:
            return refusal_reason(inner)
    for name in ("unspecified", "loopback", "link_local", "multicast", "reserved", "private"):
        if getattr(addr, f"is_{name}"):
            return name.replace("_", "-")
    if addr in _SHARED or not addr.is_global:
        return "not public"
    return None


@dataclass(frozen=True)
class RemoteFetcher:
    """See the module docstring. ``allow_domains``: lower-case host names (empty: any host)."""

    max_bytes: int = 1 << 30
    timeout_s: float = 120.0
    max_redirects: int = 3
    allow_domains: tuple[str, ...] = ()
    trusted: tuple[str, ...] = ()

    @classmethod
    def of(cls, settings: ServeSettings) -> RemoteFetcher:
        """The fetcher of a server's settings (its ``remote_*`` limits and allowed domains)."""
        return cls(
            max_bytes=settings.remote_max_bytes,
            timeout_s=settings.remote_timeout_s,
            max_redirects=settings.remote_max_redirects,
            allow_domains=settings.allow_domains,
            trusted=settings.remote_trusted_for_tests,
        )

    async def fetch(self, url: str, into: Path) -> Path:
        """Download ``url`` into the directory ``into``; the file's path."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._fetch(url, into)
        except TimeoutError:
            raise ApiError(
                504, f"fetching {url} took longer than {self.timeout_s:g} s", code="remote_timeout"
            ) from None

    # -- one hop -----------------------------------------------------------------------------------
    def check_domain(self, url: str) -> tuple[str, str, int]:
        """``url``'s scheme, host and port, if its scheme and host are allowed."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise ApiError(403, f"{url}: only http(s) URLs are fetched", code="remote_address_refused")
        try:
            host, port = (parts.hostname or "").rstrip("."), parts.port
        except ValueError:
            raise ApiError(400, f"{url}: the URL's port is not a number", code="invalid_url") from None
        if not host:
            raise ApiError(400, f"{url}: the URL has no host", code="invalid_url")
        if self.allow_domains and not any(host == d or host.endswith("." + d) for d in self.allow_domains):
            raise ApiError(
                403,
                f"{url}: the host {host} is not one this server fetches from (--allow-domain)",
                code="remote_domain_not_allowed",
            )
        return scheme, host, port or (443 if scheme == "https" else 80)

    async def resolve(self, url: str, host: str, port: int) -> IPAddress:
        """The address to connect to: every address ``host`` resolves to is checked."""
        try:
            addrs = [ipaddress.ip_address(host)]
        except ValueError:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as e:
                raise ApiError(
                    404,
                    f"{url}: the host {host} cannot be resolved ({e.strerror or e})",
                    code="remote_failed",
                ) from None
            addrs = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if not addrs:
            raise ApiError(404, f"{url}: the host {host} has no address", code="remote_failed")
        for addr in addrs:
            reason = refusal_reason(addr)
            if reason is not None and f"{addr}:{port}" not in self.trusted:
                raise ApiError(
                    403,
                    f"{url}: the host {host} is at {addr}, a {reason} address; only public addresses "
                    "are fetched from",
                    code="remote_address_refused",
                )
        return addrs[0]

    async def _fetch(self, url: str, into: Path) -> Path:
        import httpx

        from videopipe.serve.paths import VIDEO_EXTENSIONS

        suffix = Path(urlsplit(url).path).suffix.lower()
        fd, name = tempfile.mkstemp(dir=into, suffix=suffix if suffix in VIDEO_EXTENSIONS else ".video")
        os.close(fd)
        try:
            async with httpx.AsyncClient(
                follow_redirects=False, timeout=self.timeout_s, trust_env=False
            ) as client:
                hop = url
                for _ in range(self.max_redirects + 1):
                    location = await self._get(client, hop, Path(name), url)
                    if location is None:
                        return Path(name)
                    hop = location
                raise ApiError(
                    502,
                    f"fetching {url} redirected more than {self.max_redirects} times (--remote-max-redirects)",
                    code="remote_too_many_redirects",
                )
        except BaseException as e:
            os.unlink(name)
            if isinstance(e, httpx.HTTPError):
                raise ApiError(
                    404, f"fetching {url} failed ({type(e).__name__})", code="remote_failed"
                ) from None
            raise

    async def _get(self, client: httpx.AsyncClient, hop: str, into: Path, url: str) -> str | None:
        """GET one hop into ``into``; the redirect's absolute target, or None when fetched."""
        scheme, host, port = self.check_domain(hop)
        addr = await self.resolve(hop, host, port)
        parts = urlsplit(hop)
        shown = f"[{addr}]" if addr.version == 6 else str(addr)
        pinned = urlunsplit((scheme, f"{shown}:{port}", parts.path or "/", parts.query, ""))
        headers = {"Host": parts.netloc.rpartition("@")[2]}  # the name (and port) the URL gave
        extensions = {"sni_hostname": host} if scheme == "https" else {}
        async with client.stream("GET", pinned, headers=headers, extensions=extensions) as r:
            if r.status_code in _REDIRECTS and r.headers.get("location"):
                return urljoin(hop, r.headers["location"])
            if r.status_code != 200:
                raise ApiError(404, f"fetching {url} answered HTTP {r.status_code}", code="remote_failed")
            too_big = ApiError(
                413, f"the video at {url} is larger than {self.max_bytes} bytes", code="remote_too_large"
            )
            declared = r.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise too_big
            got = 0
            with open(into, "wb") as f:
                async for chunk in r.aiter_bytes():
                    got += len(chunk)
                    if got > self.max_bytes:
                        raise too_big
                    f.write(chunk)
        return None


def allowed_domains(names: Sequence[str]) -> tuple[str, ...]:
    """``--allow-domain`` values, checked and lower-cased."""
    out = []
    for name in names:
        n = name.strip().lower().rstrip(".")
        if not n or any(c in n for c in "/:@ *"):
            raise ConfigError(f"--allow-domain {name!r}: give a host name like videos.example.com")
        out.append(n)
    return tuple(out)
