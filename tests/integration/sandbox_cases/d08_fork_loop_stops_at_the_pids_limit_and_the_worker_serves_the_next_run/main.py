import errno, os, time
n = 0
while True:
    try:
        pid = os.fork()
    except OSError as e:
        print('fork failed after', n, errno.errorcode[e.errno])
        break
    if pid == 0:
        time.sleep(100)
        os._exit(0)
    n += 1
