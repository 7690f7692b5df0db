import sys
chunk = 'A' * 65536
for _ in range(1600):
    sys.stdout.write(chunk)
