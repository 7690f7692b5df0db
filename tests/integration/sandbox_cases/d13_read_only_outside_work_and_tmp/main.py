import errno
for p in ['/usr/x', '/etc/x', '/x', '/bin/x', '/lib/x', '/dev/x']:
    try:
        open(p, 'w')
    except OSError as e:
        print(p, errno.errorcode[e.errno])
for p in ['/work/ok', '/tmp/ok']:
    open(p, 'w').write('1')
print('writable: /work /tmp')
