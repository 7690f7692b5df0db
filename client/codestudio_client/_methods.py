"""What both clients share: their construction and the calls they offer, listed once. Each call is a
descriptor over the call in calls.py or batches.py: read from a Client it is a blocking method, from an
AsyncClient a coroutine method (each client binds it to how it performs effects)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import httpx

from ._core import DEFAULT_TIMEOUT, Op
from .batches import BatchCalls
from .calls import Files
from .live import LiveRun
from .retry import RetryPolicy

if TYPE_CHECKING:
    from .aio import AsyncClient
    from .client import Client

P = ParamSpec("P")
T = TypeVar("T")
H = TypeVar("H", httpx.Client, httpx.AsyncClient)  # the httpx client
TR = TypeVar("TR", httpx.BaseTransport, httpx.AsyncBaseTransport)  # and its transport
L = TypeVar("L")  # a live run, as the client offers it
Call = Callable[Concatenate[BatchCalls, P], Op[T]]


class Method(Generic[P, T]):
    def __init__(self, call: Call[P, T]):
        self.call = call
        self.__doc__, self.__wrapped__ = call.__doc__, call

    @overload
    def __get__(self, client: None, owner: type[Any]) -> Method[P, T]: ...

    @overload
    def __get__(self, client: Client, owner: type[Any] | None = None) -> Callable[P, T]: ...

    @overload
    def __get__(self, client: AsyncClient, owner: type[Any] | None = None) -> Callable[P, Awaitable[T]]: ...

    def __get__(self, client: Client | AsyncClient | None, owner: type[Any] | None = None) -> Any:
        return self if client is None else client.bind(self.call)


class Methods(Generic[H, TR, L]):
    """`url` is the server's base URL (without /codestudio), default $CODESTUDIO_URL, else
    http://127.0.0.1:8000; `key` the API key, default $CODESTUDIO_API_KEY. `headers` go with every
    request; `transport` is the httpx transport (a unix socket, a mock); `http_client` is used as given
    (and left open on close) instead of one the client makes."""

    def __init__(self, url: str | None = None, key: str | None = None, *,
                 timeout: float | httpx.Timeout = DEFAULT_TIMEOUT, retry: RetryPolicy | None = None,
                 headers: Mapping[str, str] | None = None, transport: TR | None = None, http_client: H | None = None):
        self.calls = BatchCalls(url, key, retry or RetryPolicy(), headers)
        self.http: H = http_client or self.new_http(timeout, transport)
        self.owns_http = http_client is None

    def new_http(self, timeout: float | httpx.Timeout, transport: TR | None) -> H:
        raise NotImplementedError

    def offer_live(self, run: LiveRun) -> L:
        raise NotImplementedError

    def live(self, language: str, code: str, *, stdin: str | None = None, files: Files | None = None,
             args: Sequence[str] | None = None, limits: Mapping[str, Any] | None = None, tty: bool = False,
             cols: int | None = None, rows: int | None = None) -> L:
        """A live run over the WebSocket: enter it (`async with` / `with`) to start the run, iterate it
        for its events; talk to the program with send_stdin, close_stdin, kill and resize."""
        return self.offer_live(LiveRun(self.calls, language, code, stdin=stdin, files=files, args=args,
                                       limits=limits, tty=tty, cols=cols, rows=rows))

    @property
    def url(self) -> str:
        return self.calls.url

    execute_code = Method(BatchCalls.execute_code)
    run_project = Method(BatchCalls.run_project)
    get_execution = Method(BatchCalls.get_execution)
    wait_execution = Method(BatchCalls.wait_execution)
    download_artifact = Method(BatchCalls.download_artifact)
    languages = Method(BatchCalls.languages)
    check_key = Method(BatchCalls.check_key)
    create_project = Method(BatchCalls.create_project)
    get_project = Method(BatchCalls.get_project)
    list_projects = Method(BatchCalls.list_projects)
    delete_project = Method(BatchCalls.delete_project)
    write_file = Method(BatchCalls.write_file)
    read_file = Method(BatchCalls.read_file)
    list_files = Method(BatchCalls.list_files)
    delete_file = Method(BatchCalls.delete_file)
    submit_batch = Method(BatchCalls.submit_batch)
    get_batch = Method(BatchCalls.get_batch)
    wait_batch = Method(BatchCalls.wait_batch)
    cancel_batch = Method(BatchCalls.cancel_batch)
    batch_report = Method(BatchCalls.batch_report)
    batch_report_csv = Method(BatchCalls.batch_report_csv)
