import errno, socket
print([n for _, n in socket.if_nameindex()])
for host, port in [("127.0.0.1", 22), ("8.8.8.8", 53), ("169.254.169.254", 80), ("::1", 22)]:
    try:
        socket.create_connection((host, port), timeout=2)
        print(host, "CONNECTED")
    except OSError as e:
        print(host, errno.errorcode[e.errno])
try:
    print(socket.getaddrinfo("pypi.org", 443))
except socket.gaierror as e:
    print("dns", e.errno == socket.EAI_AGAIN)
