import errno
total = 0
try:
    for i in range(100):
        with open(f"/tmp/f{i}", "wb") as fh:
            for _ in range(4):
                total += fh.write(b"x" * (1 << 20))
except OSError as e:
    print(errno.errorcode[e.errno], total)
