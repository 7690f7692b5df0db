"""One per-user kernel resource, exhausted (`hog`) or taken once (`probe`), in a jail through the
worker or on the host (tests/integration/test_sandbox_kernel_limits.py runs it both ways).

argv: <resource> probe            prints `ok`, or what went wrong (an errno name, `small-pipe`)
      <resource> hog <token> [n]  takes the resource until the kernel refuses, prints
                                  `exhausted <errno> after <count>` (or `not exhausted <count>`),
                                  writes ready-<token> in its work dir, keeps everything until a
                                  `release` file appears there, then exits.
Plain CPython and ctypes only: it runs as the jail's python3 and as the host's.
"""
import ctypes
import errno
import fcntl
import os
import signal
import socket
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
IN_CLOEXEC, IN_ACCESS = 0o2000000, 0x1
IPC_PRIVATE, IPC_CREAT, IPC_RMID = 0, 0o1000, 0
PIPE_BYTES = 1 << 20
KEPT = []  # objects that would close what was taken when collected


def _failed(rc: int) -> str | None:
    return errno.errorcode.get(ctypes.get_errno(), "?") if rc < 0 else None


def inotify_instances(limit: int) -> tuple[int, str | None]:
    for taken in range(limit):
        if error := _failed(libc.inotify_init1(IN_CLOEXEC)):
            return taken, error
    return limit, None


def inotify_watches(limit: int, paths=("/",)) -> tuple[int, str | None]:
    """`limit` instances (each its own watch on every path), until one is refused."""
    taken = 0
    for _ in range(limit):
        instance = libc.inotify_init1(IN_CLOEXEC)
        if error := _failed(instance):
            return taken, error
        for path in paths:
            if error := _failed(libc.inotify_add_watch(instance, path.encode(), IN_ACCESS)):
                return taken, error
            taken += 1
    return taken, None


def posix_mqueues(limit: int) -> tuple[int, str | None]:
    rt = ctypes.CDLL("librt.so.1", use_errno=True)
    for taken in range(limit):
        name = f"/cs-{os.getpid()}-{taken}".encode()
        queue = rt.mq_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600, None)
        if error := _failed(queue):
            return taken, error
        if sys.argv[2] == "probe":  # the host's queues outlive the process: leave none behind
            rt.mq_unlink(name)
    return limit, None


def sysv_msg_queues(limit: int) -> tuple[int, str | None]:
    for taken in range(limit):
        queue = libc.msgget(IPC_PRIVATE, IPC_CREAT | 0o600)
        if error := _failed(queue):
            return taken, error
        if sys.argv[2] == "probe":
            libc.msgctl(queue, IPC_RMID, None)
    return limit, None


def pipe_pages(limit: int) -> tuple[int, str | None]:
    """Pipes of 1 MiB; a probe also wants a fresh pipe at the default 64 KiB (not shrunk to 8 KiB)."""
    for taken in range(limit):
        _, write_end = os.pipe()
        if sys.argv[2] == "probe" and fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ) < 65536:
            return taken, "small-pipe"
        try:
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError as exc:
            return taken, errno.errorcode[exc.errno]
    return limit, None


def inflight_fds(limit: int) -> tuple[int, str | None]:
    """File descriptors sent over a unix socket and never received (250 a message)."""
    sender, receiver = socket.socketpair()
    KEPT.extend((sender, receiver))
    batch = min(limit, 250)
    for sent in range(0, limit, batch):
        try:
            socket.send_fds(sender, [b"x"], [receiver.fileno()] * batch)
        except OSError as exc:
            return sent, errno.errorcode[exc.errno]
    return limit, None


def pending_signals(limit: int) -> tuple[int, str | None]:
    """Real-time signals queued to this (blocking) process."""
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN])
    for taken in range(limit):
        if error := _failed(libc.sigqueue(os.getpid(), int(signal.SIGRTMIN), ctypes.c_void_p(0))):
            return taken, error
    return limit, None


# resource: (how it is taken, hog processes, each one's share); a process keeps under 64 fds
HOGS = {
    "inotify_instances": (inotify_instances, 4, 50),
    "inotify_watches": (inotify_watches, 2, 32),
    "posix_mqueues": (posix_mqueues, 1, 40),
    "sysv_msg_queues": (sysv_msg_queues, 1, 100_000),
    "pipe_pages": (pipe_pages, 4, 28),
    "inflight_fds": (inflight_fds, 1, 100_000),
    "pending_signals": (pending_signals, 1, 1_000_000),
}


def wait_for_release(seconds: float = 50) -> None:
    deadline = time.monotonic() + seconds
    while not os.path.exists("release") and time.monotonic() < deadline:
        time.sleep(0.01)


def _watched_files(count: int) -> list[str]:
    """Files for the watch hog: every instance watches each (one watch per instance and inode)."""
    os.mkdir("/tmp/w")
    for index in range(count):
        open(f"/tmp/w/{index}", "w").close()
    return [f"/tmp/w/{index}" for index in range(count)]


def hog(resource: str, token: str, extra: list[str]) -> None:
    take, processes, share = HOGS[resource]
    if resource == "inotify_watches":  # enough files that 64 instances pass the host's watch limit
        files = _watched_files(int(extra[0]) // (processes * share) + 1)
        def take(limit):
            return inotify_watches(limit, files)
    total, error = 0, None
    for _ in range(processes):  # one after the other: each keeps what it took until the release
        read_end, write_end = os.pipe()
        if os.fork() == 0:
            os.close(read_end)
            os.write(write_end, "{} {}".format(*take(share)).encode())
            os.close(write_end)
            wait_for_release()
            os._exit(0)
        os.close(write_end)
        taken, refused = os.read(read_end, 100).decode().split()
        os.close(read_end)
        total, error = total + int(taken), refused if refused != "None" else error
    print(f"exhausted {error} after {total}" if error else f"not exhausted {total}", flush=True)
    open(f"ready-{token}", "w").close()
    wait_for_release()
    for _ in range(processes):
        os.wait()


def probe(resource: str) -> None:
    take = HOGS[resource][0]
    _, error = take(1)
    print(error or "ok")


if __name__ == "__main__":
    if sys.argv[2] == "hog":
        hog(sys.argv[1], sys.argv[3], sys.argv[4:])
    else:
        probe(sys.argv[1])
