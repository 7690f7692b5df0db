import errno
for d in ("/tmp", "/work"):
    n = 0
    try:
        while True:
            open(f"{d}/i{n}", "w").close()
            n += 1
    except OSError as e:
        print(d, errno.errorcode[e.errno], n)
