import errno
total = 0
try:
    with open("/work/big", "wb", buffering=0) as fh:
        while True:
            total += fh.write(b"x" * (1 << 20))
except OSError as e:
    print(errno.errorcode[e.errno], total)
