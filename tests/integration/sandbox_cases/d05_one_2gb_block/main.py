x = b'x' * (2 << 30)
print(len(x))
