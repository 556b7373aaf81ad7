"""uvicorn as ``cmdb serve`` runs it: its worker processes' shared socket bound as TCP.

uvicorn binds the socket it hands to its worker processes as ``socket.socket(family)``, with
protocol 0, and asyncio only sets ``TCP_NODELAY`` on connections whose socket says
``IPPROTO_TCP``: so with ``--workers 2`` every small answer waited for the client's delayed ACK,
about 40 ms (measured on ``/api/v1/health``: 48 ms with 2 workers, 1.7 ms with 1, 2.1 ms with
this). Imported only by ``cmdb serve`` (uvicorn is not cheap to import) and by the workers,
which unpickle the config.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

__all__ = ["TcpConfig", "run"]


class TcpConfig(uvicorn.Config):
    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            return socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        return sock


def run(app: str, **options: Any) -> None:
    """``uvicorn.run(app, **options)``, with :class:`TcpConfig`."""
    config = TcpConfig(app, **options)
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()
