import errno, os
try:
    os.link('/usr/bin/python3', '/work/py')
except OSError as e:
    print(errno.errorcode[e.errno])
