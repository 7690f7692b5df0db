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

print("unshare user", call("unshare", 0x10000000))
print("unshare net", call("unshare", 0x40000000))
print("clone user", sys(56, 0x10000000 | 17, 0, 0, 0, 0))
print("setns", call("setns", 0, 0))
