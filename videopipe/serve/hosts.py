"""Which ``Host`` and ``Origin`` headers a request may carry: the server's defence against DNS
rebinding (a page on ``evil.example`` whose name is made to resolve to 127.0.0.1 reads the
API as if it were the page's own) and against POSTs from other pages the browser has open.

* ``Host``: the name (the port is not checked: ``docker -p`` and ``ssh -L`` change it, and a
  rebinding attack controls the name only) must be ``localhost``, ``127.0.0.1``, ``::1``, the
  address the server is bound to, or an ``--allowed-host`` name. Bound to every interface
  (``0.0.0.0``/``::``), any IP address is accepted too (an address is never a rebinding: no
  DNS answer is involved), and so are the machine's own host name and ``NAME.local``.
  ``--allowed-host '*'`` turns the check off. Other requests get 421 before any route runs.
* ``Origin`` on a POST (or any method but GET/HEAD/OPTIONS): when the browser sends one, it
  must be the server's own origin (the same host and port as ``Host``) or name an
  ``--allowed-host``; otherwise 403. Clients that send no ``Origin`` (curl, the openai
  client) are not affected. Reading routes need no such check: without CORS headers a
  browser does not let another origin read the answer.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from videopipe.serve.asgi import HttpMiddleware
from videopipe.serve.errors import ApiError, send_error

__all__ = ["HostCheck", "HostPolicy", "WILDCARD_HOSTS"]

WILDCARD_HOSTS = ("0.0.0.0", "::", "")
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# a DNS name or an IPv4 address, or a bracketed IPv6 address; then an optional port
_HOST = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<name>[A-Za-z0-9_.-]+))(?::(?P<port>[0-9]{1,5}))?$")


def _parse(host: str) -> tuple[str, int | None] | None:
    """(name, port) of a ``Host`` header or an origin's netloc, lower-case, without a trailing
    dot; None when it is not one."""
    m = _HOST.match(host.strip())
    if m is None:
        return None
    name = (m.group("v6") or m.group("name")).lower().rstrip(".")
    port = m.group("port")
    return (name, int(port) if port else None) if name else None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class HostPolicy:
    """names:     lower-case names (or addresses) a ``Host`` may carry
    extra:        the ``--allowed-host`` names (a cross-origin POST from one is accepted)
    any_ip:       any IP address is accepted (bound to every interface)
    any_host:     the check is off (``--allowed-host '*'``)"""

    names: frozenset[str]
    extra: frozenset[str] = frozenset()
    any_ip: bool = False
    any_host: bool = False

    @classmethod
    def for_server(cls, host: str, allowed: Iterable[str] = ()) -> HostPolicy:
        """The policy of a server bound to ``host`` with these ``--allowed-host`` names."""
        extra = {h.strip().lower().rstrip(".") for h in allowed if h.strip()}
        names = {*_LOOPBACK, *extra, host.strip().strip("[]").lower()}
        wildcard = host.strip().strip("[]") in WILDCARD_HOSTS
        if wildcard:
            machine = socket.gethostname().lower()
            names |= {machine, f"{machine}.local"}
        return cls(frozenset(names), frozenset(extra), any_ip=wildcard, any_host="*" in extra)

    def allows_host(self, header: str | None) -> bool:
        if self.any_host:
            return True
        parsed = _parse(header or "")
        if parsed is None:
            return False
        name = parsed[0]
        return name in self.names or (self.any_ip and _is_ip(name))

    def allows_origin(self, origin: str, host_header: str) -> bool:
        """A browser's ``Origin`` on a state-changing request to a server reached as ``host_header``."""
        if self.any_host:
            return True
        parts = urlsplit(origin.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null" (a sandboxed frame, a file:// page) or garbage
        theirs, ours = _parse(parts.netloc), _parse(host_header)
        if theirs is None or ours is None:
            return False
        default = 443 if parts.scheme == "https" else 80
        if theirs[0] == ours[0] and (theirs[1] or default) == (ours[1] or 80):
            return True
        return theirs[0] in self.extra  # a reverse proxy's name (its scheme and port are its own)


class HostCheck(HttpMiddleware):
    """ASGI middleware applying a :class:`HostPolicy` to every HTTP request (before the body
    is read or any route runs)."""

    def __init__(self, app: ASGIApp, *, policy: HostPolicy) -> None:
        super().__init__(app)
        self.policy = policy

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get(b"host")
        if not self.policy.allows_host(host):
            shown = (host or "")[:100]
            return await send_error(
                send,
                ApiError(
                    421,
                    f"this server does not answer to the Host {shown!r}; if it is yours (a reverse "
                    "proxy, a name of this machine), start the server with --allowed-host NAME",
                    code="host_not_allowed",
                ),
            )
        origin = headers.get(b"origin")
        if origin is not None and scope["method"] not in _SAFE_METHODS:
            if not self.policy.allows_origin(origin, host or ""):
                return await send_error(
                    send,
                    ApiError(
                        403,
                        f"a {scope['method']} from the page {origin[:100]!r} (another origin) is refused; "
                        "start the server with --allowed-host NAME if that page is yours",
                        code="cross_origin",
                    ),
                )
        await self.app(scope, receive, send)
