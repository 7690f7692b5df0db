"""The API as deployed: nginx in front of gunicorn.

gunicorn's threads read request bodies with blocking reads, so a client that sends headers and
then stalls would hold a thread for good. nginx holds every client connection instead: it reads
headers and body within bounded times, caps the connections one address or one API key may have
open, and hands gunicorn (on a unix socket) only whole requests. `make run` and the tests start
exactly this pair; `codestudio front-config` prints the nginx configuration for other deployments.

The MCP server (mcp_server/, ASGI) runs beside them as its own process, uvicorn on another unix
socket, which nginx serves at /mcp; it calls the API on gunicorn's socket (see docs/mcp.md).
"""
from __future__ import annotations

import grp
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import click
from jinja2 import Environment, FileSystemLoader, StrictUndefined

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "config" / "nginx.conf.j2"
NGINX_GROUP = "nogroup"  # config/nginx.conf.j2: `user nobody nogroup` when started as root
# the wait cap bounds a waited run; the rest is margin for the answer to be written
UPSTREAM_MARGIN_SECONDS = 30


@dataclass(frozen=True)
class FrontSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    header_timeout: int = 5         # seconds for the request line and all headers
    body_timeout: int = 10          # seconds allowed between two reads of the body
    send_timeout: int = 30          # seconds allowed between two writes of the answer
    keepalive_timeout: int = 5      # idle seconds before a keep-alive connection is closed
    per_address: int = 128          # open connections per client address (a classroom behind one NAT)
    per_key: int = 32               # open connections per API key, from any address
    max_body_bytes: int = 8 * 1024 * 1024
    upstream_timeout: int = 90
    worker_processes: int = 2
    worker_connections: int = 8192
    api_workers: int = 2
    api_threads: int = 16           # per API process, for requests
    live_connections: int = 64      # per API process, live runs (each holds a thread: more threads)
    live_timeout: int = 600         # seconds a live run's WebSocket may stay silent both ways

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> FrontSettings:
        def number(name: str, default: float) -> int:
            return int(float(env.get(name, default)))

        defaults = cls()
        return cls(
            host=env.get("HOST", defaults.host), port=number("PORT", defaults.port),
            header_timeout=number("FRONT_HEADER_TIMEOUT", defaults.header_timeout),
            body_timeout=number("FRONT_BODY_TIMEOUT", defaults.body_timeout),
            per_address=number("FRONT_CONNECTIONS_PER_ADDRESS", defaults.per_address),
            per_key=number("FRONT_CONNECTIONS_PER_KEY", defaults.per_key),
            max_body_bytes=number("MAX_REQUEST_BYTES", defaults.max_body_bytes),
            upstream_timeout=number("RUN_WAIT_CAP_SECONDS", 60) + UPSTREAM_MARGIN_SECONDS,
            api_workers=number("API_WORKERS", defaults.api_workers),
            api_threads=number("API_THREADS", defaults.api_threads),
            live_connections=number("LIVE_CONNECTIONS", defaults.live_connections),
        )

    @property
    def listen(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def render_config(settings: FrontSettings, state_dir: Path, runtime_dir: Path, upstream_socket: Path,
                  mcp_socket: Path) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATE.parent), undefined=StrictUndefined,
                      keep_trailing_newline=True, autoescape=False)
    return env.get_template(TEMPLATE.name).render(
        **settings.__dict__, listen=settings.listen, state_dir=state_dir, runtime_dir=runtime_dir,
        upstream_socket=upstream_socket, mcp_socket=mcp_socket, run_as_root=os.geteuid() == 0)


@click.command("front-config")
@click.option("--upstream", default="/run/codestudio/api.sock", show_default=True,
              help="gunicorn's unix socket (gunicorn -b unix:<path>)")
@click.option("--mcp-upstream", default="/run/codestudio/mcp.sock", show_default=True,
              help="the MCP server's unix socket (codestudio mcp --socket <path>)")
@click.option("--state-dir", default="/var/lib/codestudio/front", show_default=True, help="pid and logs")
@click.option("--runtime-dir", default="/run/codestudio", show_default=True, help="nginx's temp files")
def front_config(upstream: str, mcp_upstream: str, state_dir: str, runtime_dir: str) -> None:
    """Print the nginx configuration that fronts the API (HOST, PORT, FRONT_* and limits from the environment)."""
    click.echo(render_config(FrontSettings.from_env(), Path(state_dir), Path(runtime_dir), Path(upstream),
                             Path(mcp_upstream)), nl=False)


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise SystemExit("nginx is required in front of the API (it holds slow clients): "
                         "`make toolchains` installs it (apt-get install nginx)")
    return found


def gunicorn_argv(settings: FrontSettings, upstream_socket: Path) -> list[str]:
    # keep-alive outlasts nginx's idle upstream connections (4 s), so nginx never reuses one
    # gunicorn is closing
    return [str(Path(sys.executable).with_name("gunicorn")), "-b", f"unix:{upstream_socket}",
            "-w", str(settings.api_workers), "-k", "gthread",
            "--threads", str(settings.api_threads + settings.live_connections),
            "--timeout", str(settings.upstream_timeout + 30), "--keep-alive", "10",
            "--no-control-socket", "wsgi:app"]


def mcp_argv(mcp_socket: Path) -> list[str]:
    # `codestudio mcp --socket`, without loading the app the MCP server never uses
    return [sys.executable, "-m", "mcp_server", "--socket", str(mcp_socket)]


def private_runtime_dir() -> Path:
    """The directory of the upstream sockets and nginx's temp files, reachable by nginx's workers
    only (as root they run as nobody:nogroup): a local user connecting to gunicorn or the MCP
    server directly would bypass the front's limits and could claim any client address."""
    path = Path(tempfile.mkdtemp(prefix="codestudio-front-"))  # 0700, ours
    if os.geteuid() == 0:
        os.chown(path, 0, grp.getgrnam(NGINX_GROUP).gr_gid)
        path.chmod(0o750)
    return path


class Front:
    """gunicorn on a private unix socket and nginx on host:port, started and stopped together."""

    def __init__(self, settings: FrontSettings, state_dir: Path, env: Mapping[str, str] | None = None):
        self.settings = settings
        self.state_dir = state_dir
        self.env = env  # None: the environment as it is when start() is called
        self.runtime_dir: Path | None = None
        self.processes: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        return f"http://{self.settings.listen}"

    def start(self) -> Front:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.runtime_dir = private_runtime_dir()
        upstream, mcp_socket = self.runtime_dir / "api.sock", self.runtime_dir / "mcp.sock"
        conf = self.state_dir / "nginx.conf"
        conf.write_text(render_config(self.settings, self.state_dir, self.runtime_dir, upstream, mcp_socket))
        # the API process refuses live connections beyond the threads started for them
        env = {**(self.env if self.env is not None else os.environ), "CODESTUDIO_PROXY_HOPS": "1",
               "LIVE_CONNECTIONS": str(self.settings.live_connections)}
        api = subprocess.Popen(gunicorn_argv(self.settings, upstream), cwd=ROOT, env=env,
                               start_new_session=True)
        self.processes.append(api)
        _wait_for(lambda: upstream.exists(), api, "gunicorn", self.state_dir)
        # the MCP server calls the API on gunicorn's socket: one hop, the caller's address passed on
        mcp = subprocess.Popen(mcp_argv(mcp_socket), cwd=ROOT, env={**env, "CODESTUDIO_API_SOCKET": str(upstream)},
                               start_new_session=True)
        self.processes.append(mcp)
        _wait_for(lambda: mcp_socket.exists(), mcp, "the MCP server", self.state_dir)
        nginx = subprocess.Popen([nginx_binary(), "-e", str(self.state_dir / "error.log"),
                                  "-p", str(self.state_dir), "-c", str(conf)], start_new_session=True)
        self.processes.append(nginx)
        # ready when the API itself answers: gunicorn binds its socket before its workers have loaded the app
        _wait_for(lambda: _healthy(self.settings.host, self.settings.port), nginx, "the API", self.state_dir)
        return self

    def stop(self) -> None:
        stop_in_reverse(self.processes)  # nginx first: no new requests reach gunicorn
        self.processes.clear()
        if self.runtime_dir is not None:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
            self.runtime_dir = None


def stop_in_reverse(processes: list[subprocess.Popen], grace_seconds: float = 40) -> None:
    """Terminate the processes last-started first, each given time to finish what it holds."""
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def with_free_port(settings: FrontSettings) -> FrontSettings:
    with socket.socket() as probe:
        probe.bind((settings.host, 0))
        return replace(settings, port=probe.getsockname()[1])


def _healthy(host: str, port: int) -> bool:
    connection = http.client.HTTPConnection(host, port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _wait_for(ready: Callable[[], bool], process: subprocess.Popen, name: str, state_dir: Path,
              seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        if process.poll() is not None:
            log = state_dir / "error.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise SystemExit(f"{name} exited during start-up ({process.returncode}) {tail}")
        time.sleep(0.05)
    raise SystemExit(f"{name} did not start within {seconds:.0f} s")
