"""Code Studio on several "hosts" (tests/support/netns.py): host A runs PostgreSQL, Redis, the API
(gunicorn) and, when it is the broker, RabbitMQ; the other hosts run Celery workers that reach host A
over their veth links only. The test itself, outside every namespace, speaks to host A's services on
their unix sockets (paths in the file system, which namespaces do not separate)."""
from __future__ import annotations

import contextlib
import glob
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis
import sqlalchemy as sa

from tests.support.netns import SUBNET, Host, Network
from tests.support.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
API_PORT = 8000


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError(f"no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/{name})")
    return found[-1]


class Response:
    """The slice of Flask's test response the suite's helpers read (tests/support/batches.py)."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status_code, self.headers, self.body = status, headers, body

    def get_json(self):
        return json.loads(self.body)

    def get_data(self, as_text: bool = False):
        return self.body.decode() if as_text else self.body


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("host-a", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


@dataclass
class ApiClient:
    """HTTP to host A's gunicorn on its unix socket, one connection per request."""
    socket_path: str
    timeout: float = 90

    def request(self, method: str, url: str, json_body=None, headers: dict | None = None) -> Response:
        conn = _UnixConnection(self.socket_path, self.timeout)
        body = None if json_body is None else json.dumps(json_body).encode()
        sent = {**(headers or {}), **({"Content-Type": "application/json"} if body is not None else {})}
        try:
            conn.request(method, url, body=body, headers=sent)
            answer = conn.getresponse()
            return Response(answer.status, dict(answer.getheaders()), answer.read())
        finally:
            conn.close()

    def get(self, url: str, headers: dict | None = None) -> Response:
        return self.request("GET", url, headers=headers)

    def post(self, url: str, json=None, headers: dict | None = None) -> Response:  # noqa: A002 - Flask's name
        return self.request("POST", url, json_body=json, headers=headers)


@dataclass
class Worker:
    name: str
    host: Host
    proc: subprocess.Popen
    log: Path


@dataclass
class Cluster:
    """Host A's services, started by `start`, and the workers started on the other hosts."""
    network: Network
    base: Path
    broker: str = "redis"  # or "amqp": a RabbitMQ on host A is the Celery broker
    processes: list[subprocess.Popen] = field(default_factory=list)
    workers: dict[str, Worker] = field(default_factory=dict)
    # host A's services as the test reaches them (set by `start`)
    db: sa.Engine = field(init=False)
    redis: redis.Redis = field(init=False)
    api: ApiClient = field(init=False)
    postgres: subprocess.Popen | None = field(init=False, default=None)

    @property
    def a(self) -> Host:
        return self.network.hosts["a"]

    @property
    def urls(self) -> dict[str, str]:
        """What every host is configured with: host A's addresses."""
        redis_url = f"redis://{self.a.address}:6379/0"
        broker = f"amqp://guest:guest@{self.a.address}:5672//" if self.broker == "amqp" else redis_url
        return {"REDIS_URL": redis_url, "CELERY_BROKER_URL": broker,
                "DATABASE_URL": f"postgresql://postgres@{self.a.address}:5432/codestudio"}

    # host A ---------------------------------------------------------------------------------------

    def start(self) -> None:
        self.network.start()
        rabbitmq_started = self._start_rabbitmq() if self.broker == "amqp" else None  # the slowest: first
        self._start_postgres()
        self._start_redis()
        self._codestudio("db", "upgrade")
        if rabbitmq_started:
            rabbitmq_started()
        self._start_api()

    def _spawn(self, host: Host, argv: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
        with open(log, "w") as out:
            proc = subprocess.Popen(self.network.argv(host, argv), cwd=ROOT, env=env or dict(os.environ),
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(proc)
        return proc

    def _start_postgres(self) -> None:
        data, sockets = self.base / "pg", self.base / "pg-sockets"
        for path in (data, sockets):
            path.mkdir()
            shutil.chown(path, "postgres", "postgres")
        as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups"]
        subprocess.run([*as_postgres, _pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                        "--no-sync"], check=True, capture_output=True, timeout=120)
        with open(data / "pg_hba.conf", "a") as hba:  # the other hosts, over their links
            hba.write(f"host all all {SUBNET}.0/24 trust\n")
        server = [_pg_bin("postgres"), "-D", str(data), "-c", f"listen_addresses={self.a.address}",
                  "-c", f"unix_socket_directories={sockets}",
                  "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        proc = self.postgres = self._spawn(self.a, [*as_postgres, *server], self.base / "postgres.log")
        admin = sa.create_engine(f"postgresql+psycopg://postgres@/postgres?host={sockets}",
                                 isolation_level="AUTOCOMMIT")

        def accepting() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"postgres exited:\n{(self.base / 'postgres.log').read_text()[-3000:]}")
            try:
                with admin.connect() as conn:
                    conn.execute(sa.text("CREATE DATABASE codestudio"))
                return True
            except sa.exc.OperationalError:
                return False

        wait_until(accepting, 60, interval=0.3, what="PostgreSQL on host A")
        admin.dispose()
        self.db = sa.create_engine(f"postgresql+psycopg://postgres@/codestudio?host={sockets}")

    def _start_redis(self) -> None:
        sock = self.base / "redis.sock"
        self._spawn(self.a, ["redis-server", "--bind", self.a.address, "--port", "6379", "--protected-mode", "no",
                             "--unixsocket", str(sock), "--unixsocketperm", "700", "--save", "",
                             "--appendonly", "no", "--dir", str(self.base)], self.base / "redis.log")
        self.redis = redis.Redis(unix_socket_path=str(sock), db=0)
        wait_until(lambda: sock.exists() and self.redis.ping(), 30, interval=0.2, what="Redis on host A")

    def _start_rabbitmq(self) -> Callable[[], None]:
        """A node of its own (files, cookie and epmd) whose guest may log in from the other hosts;
        returns the wait for it to accept connections."""
        home = self.base / "rabbitmq"
        home.mkdir()
        (home / "rabbitmq.conf").write_text(f"loopback_users = none\nlisteners.tcp.1 = {self.a.address}:5672\n")
        (home / "enabled_plugins").write_text("[].\n")
        env = {**os.environ, "HOME": str(home), "RABBITMQ_NODENAME": "rabbit@localhost",
               "RABBITMQ_MNESIA_BASE": str(home / "mnesia"), "RABBITMQ_LOG_BASE": str(home / "log"),
               "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq.conf"), "RABBITMQ_PID_FILE": str(home / "pid"),
               "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins")}
        log = self.base / "rabbitmq.log"
        proc = self._spawn(self.a, ["/usr/lib/rabbitmq/bin/rabbitmq-server"], log, env=env)

        def started() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited:\n{log.read_text()[-3000:]}")
            return "Starting broker... completed" in log.read_text()

        return lambda: wait_until(started, 90, interval=0.5,
                                  what=lambda: f"RabbitMQ on host A\n{log.read_text()[-3000:]}")

    def _env_a(self) -> dict[str, str]:
        return {**os.environ, **self.urls, "CODESTUDIO_INSTANCE": str(self.base / "instance-a"),
                "ANONYMOUS_REQUESTS_PER_MINUTE": "100000", "LOG_FORMAT": "text"}

    def _codestudio(self, *args: str) -> str:
        """The product's CLI on host A."""
        (self.base / "instance-a").mkdir(exist_ok=True)
        done = subprocess.run(self.network.argv(self.a, [str(BIN / "codestudio"), *args]), cwd=ROOT,
                              env=self._env_a(), capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def _start_api(self) -> None:
        sock = self.base / "api.sock"
        proc = self._spawn(self.a, [str(BIN / "gunicorn"), "-b", f"{self.a.address}:{API_PORT}", "-b", f"unix:{sock}",
                                    "-w", "2", "--threads", "8", "--timeout", "120", "wsgi:app"],
                           self.base / "api.log", env=self._env_a())
        self.api = ApiClient(str(sock))

        def answering() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{(self.base / 'api.log').read_text()[-3000:]}")
            try:
                return sock.exists() and self.api.get("/healthz").status_code == 200
            except OSError:
                return False

        wait_until(answering, 90, interval=0.3, what="the API on host A")

    def user(self, email: str) -> dict:
        key = self._codestudio("users", "create", email, "--tier", "pro").strip().splitlines()[-1]
        return {"key": key, "headers": {"Authorization": f"Bearer {key}"}}

    # workers --------------------------------------------------------------------------------------

    def start_worker(self, host: Host, queues: list[str], processes: int = 2, wait: float = 120) -> Worker:
        """`celery worker` on `host`, configured with host A's addresses only."""
        name = f"{host.label}-{os.getpid()}@{host.namespace}"
        log = self.base / f"worker-{host.label}-{len(self.workers)}.log"
        runs = self.base / f"runs-{host.label}"
        runs.mkdir(exist_ok=True)
        env = {**os.environ, **self.urls, "CODESTUDIO_INSTANCE": str(self.base / f"instance-{host.label}"),
               "SANDBOX_RUNS_DIR": str(runs), "SANDBOX_CGROUP_PARENT": f"codestudio-{host.namespace}",
               "SANDBOX_WARM_COMPILERS": "0",  # no idle JVMs on a shared 2-core machine
               "RECOVERY_INTERVAL_SECONDS": "1", "RECOVERY_RUNNING_GRACE_SECONDS": "3", "LOG_FORMAT": "text"}
        proc = self._spawn(host, [str(BIN / "celery"), "-A", "worker:celery", "worker", "-E", "-c", str(processes),
                                  "-n", name, "-Q", ",".join(queues), "--loglevel", "INFO",
                                  "--without-mingle", "--without-gossip"], log, env=env)
        worker = self.workers[name] = Worker(name, host, proc, log)
        wait_until(lambda: self._advertised(worker), wait, interval=0.3,
                   what=lambda: f"worker {name} advertising:\n{log.read_text()[-3000:]}")
        return worker

    def _advertised(self, worker: Worker) -> bool:
        from tasks import keys

        if worker.proc.poll() is not None:
            raise RuntimeError(f"worker exited ({worker.proc.returncode}):\n{worker.log.read_text()[-3000:]}")
        return bool(self.redis.exists(keys.worker_key(worker.name)))

    def advertised(self, worker: Worker) -> dict:
        from tasks import keys

        return json.loads(self.redis.get(keys.worker_key(worker.name)) or "{}")

    def stop_worker(self, worker: Worker, grace: float = 40) -> None:
        """A warm shutdown, as an operator stops a host's worker."""
        worker.proc.send_signal(signal.SIGTERM)
        try:
            worker.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(worker.proc.pid, signal.SIGKILL)
            worker.proc.wait(timeout=10)

    def crash(self, host: Host) -> None:
        """The host dies: everything on it is killed at once, nothing shuts down."""
        self.network.kill_all(host)
        for worker in self.workers.values():
            if worker.host == host:
                worker.proc.wait(timeout=30)

    def languages(self) -> dict[str, bool]:
        response = self.api.get("/codestudio/languages")
        assert response.status_code == 200, response.get_data(as_text=True)
        return {lang["id"]: lang["available"] for lang in response.get_json()}

    def row(self, table: str, row_id: str) -> dict:
        with self.db.connect() as conn:
            found = conn.execute(sa.text(f"SELECT * FROM {table} WHERE id = :id"), {"id": row_id}).mappings().one()
            return dict(found)

    def count(self, sql: str, **params) -> int:
        with self.db.connect() as conn:
            return int(conn.execute(sa.text(sql), params).scalar_one())

    def peers(self) -> set[str]:
        """The addresses host A's PostgreSQL and Redis have clients at (besides their unix sockets)."""
        with self.db.connect() as conn:
            pg = set(conn.execute(sa.text("SELECT DISTINCT host(client_addr) FROM pg_stat_activity "
                                          "WHERE client_addr IS NOT NULL")).scalars())
        return pg | {client["addr"].rsplit(":", 1)[0] for client in self.redis.client_list() if client.get("addr")}

    def logs(self) -> str:
        return "\n".join(f"== {path.name}\n{path.read_text()[-2500:]}" for path in sorted(self.base.glob("*.log")))

    # teardown -------------------------------------------------------------------------------------

    def close(self) -> None:
        """Every process this cluster started, then the namespaces, the cgroups and the files."""
        from sandbox import cgroups
        from sandbox.sweep import sweep

        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT if proc is self.postgres else signal.SIGTERM)  # INT: fast shutdown
        deadline = time.monotonic() + 30
        for proc in self.processes:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        if getattr(self, "db", None) is not None:
            self.db.dispose()
        hosts = list(self.network.hosts.values())
        self.network.close()
        for host in hosts:  # what the workers' runs left, as a worker's start-up sweep removes it
            try:
                layout = cgroups.detect(f"codestudio-{host.namespace}")
                sweep(self.base / f"runs-{host.label}", layout, lambda name: name[:1].isdigit())  # <pid>-…
                cgroups.remove_parent(layout)
            except Exception:  # never made (no worker ran there)
                pass
        _unmount_below(self.base)
        shutil.rmtree(self.base, ignore_errors=True)


def _unmount_below(base: Path) -> None:
    """Work dirs (tmpfs) a killed worker left mounted: a crashed host never unmounts its own."""
    with open("/proc/self/mountinfo") as mounts:
        points = [line.split()[4] for line in mounts]
    for point in sorted((p for p in points if p.startswith(f"{base}/")), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True, timeout=30, check=False)


def make_cluster(broker: str = "redis") -> Cluster:
    base = Path(tempfile.mkdtemp(prefix="cs-cluster-"))
    base.chmod(0o755)  # PostgreSQL (its own user) and the jails read below it
    return Cluster(Network(prefix=f"cs{os.getpid()}{broker[0]}"), base, broker)
