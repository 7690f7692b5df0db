import ctypes, errno, socket
libc = ctypes.CDLL(None, use_errno=True)
def call(name, *args):
    rc = getattr(libc, name)(*args)
    return errno.errorcode[ctypes.get_errno()] if rc == -1 else "OK"
def sys(nr, *args):
    return call("syscall", ctypes.c_long(nr), *(a if a is None or isinstance(a, bytes) else ctypes.c_long(a) for a in args))
def sock(*args):
    try:
        socket.socket(*args).close()
        return "OK"
    except OSError as e:
        return errno.errorcode[e.errno]

print("traceme", call("ptrace", 0, 0, 0, 0))
print("attach pid 1", sys(101, 16, 1, 0, 0))
print("process_vm_readv", sys(310, 1, 0, 0, 0, 0, 0))
