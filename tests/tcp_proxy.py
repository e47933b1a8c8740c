"""A TCP proxy on 127.0.0.1 in front of the test database, that can take the database away.

``cut()`` drops every open connection and refuses new ones until ``restore()``: to the app it
looks like PostgreSQL being restarted or the network to it failing::

    proxy = TcpProxy("127.0.0.1", 5432)
    url = url_with_port(database_url, proxy.port)
    ...
    proxy.cut(); ...; proxy.restore()
    proxy.close()
"""

from __future__ import annotations

import selectors
import socket
import threading


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._up = True
        self._closing = False
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self._closing:
                    client.close()
                    return
                if not self._up:
                    client.close()  # the database is away
                    continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while True:
                for key, _events in selector.select():
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            selector.close()
            self._drop(client, upstream)

    def _drop(self, client: socket.socket, upstream: socket.socket) -> None:
        for sock in (client, upstream):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        with self._lock:
            if (client, upstream) in self._pairs:
                self._pairs.remove((client, upstream))

    def cut(self) -> None:
        """Take the database away: drop open connections, refuse new ones."""
        with self._lock:
            self._up = False
            pairs = list(self._pairs)
        for client, upstream in pairs:
            self._drop(client, upstream)

    def restore(self) -> None:
        """Bring the database back."""
        with self._lock:
            self._up = True

    def close(self) -> None:
        with self._lock:
            self._closing = True
        self.cut()
        self._listener.close()
        self._thread.join(timeout=5)
