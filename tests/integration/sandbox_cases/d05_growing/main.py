a = []
while True:
    a.append(bytearray(10 << 20))
