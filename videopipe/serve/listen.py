"""The listening socket of ``videopipe serve``, bound before the model loads, so that a busy
port or a ``--host`` that is not this machine's fails at once with one line (exit code 2)
instead of after "serving on ..."."""

from __future__ import annotations

import errno
import socket

from videopipe.errors import ConfigError

__all__ = ["bind_socket"]


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (not yet listening: uvicorn listens on it), or a
    :class:`ConfigError` that says why not and what to change."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as e:
        reason = e.strerror if isinstance(e, socket.gaierror) else str(e)
        raise ConfigError(
            f"--host {host}: cannot be resolved ({reason}); give an address like 127.0.0.1"
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise ConfigError(_why(e, host, port)) from None
    sock.set_inheritable(True)
    return sock


def _why(e: OSError, host: str, port: int) -> str:
    if e.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is in use; pick another with --port"
    if e.errno == errno.EACCES:
        return (
            f"port {port} on {host}: permission denied (ports below 1024 need root); pick another with --port"
        )
    if e.errno == errno.EADDRNOTAVAIL:
        return f"--host {host} is not an address of this machine; give one of its addresses, 127.0.0.1 or 0.0.0.0"
    return f"cannot listen on {host} port {port} ({e.strerror or e}); pick another --host or --port"
