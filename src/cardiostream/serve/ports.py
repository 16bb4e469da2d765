"""Whether the server can listen where it is asked to, checked before it starts.

uvicorn reports a taken port only once the application, its engine process and the
command's first lines are under way, and then as a traceback; :func:`check_port` binds a
socket the way uvicorn will and gives a one-line answer first.
"""

from __future__ import annotations

import errno
import socket

from cardiostream.errors import InputError

__all__ = ["check_port"]


def _probe(family: int, address: tuple[object, ...]) -> None:
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        exclusive: int | None = getattr(socket, "SO_EXCLUSIVEADDRUSE", None)
        if exclusive is not None:
            # Windows' SO_REUSEADDR would let the bind steal a port another socket listens
            # on; exclusive use makes a taken port fail as it will for the server.
            sock.setsockopt(socket.SOL_SOCKET, exclusive, 1)
        else:
            # As asyncio's server does: a port whose last connections linger in TIME_WAIT is
            # free for it, while one that a socket listens on still refuses the bind.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)


def check_port(host: str, port: int) -> None:
    """Make sure a server can listen on ``host:port``; the socket is closed again at once.

    Parameters
    ----------
    host : str
        The address to listen on (a name is resolved, and every address it gives is tried,
        as the server will).
    port : int
        The TCP port; 0 (any free port) always passes.

    Raises
    ------
    InputError
        When the port is out of range or taken, the host is not an address of this machine,
        or listening there is not permitted; the message names ``--port`` or ``--host``.
    """
    if not 0 <= port <= 65535:
        raise InputError(f"--port: expected 0 to 65535, got {port}")
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise InputError(f"--host {host}: not an address to listen on ({exc.strerror})") from None
    for family, _, _, _, address in found:
        try:
            _probe(family, address)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", None)):
                raise InputError(
                    f"--port {port}: {where} is already in use (another cardiostream serve?); "
                    "choose another with --port"
                ) from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise InputError(f"--host {host}: not an address of this machine") from None
            if exc.errno == errno.EACCES:
                raise InputError(
                    f"--port {port}: not permitted to listen on {where} (ports below 1024 "
                    "need privileges); choose another with --port"
                ) from None
            raise InputError(f"--port {port}: cannot listen on {where}: {exc.strerror}") from None
