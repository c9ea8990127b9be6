# Both ends of the L4 byte-path tests (sk_msg acceleration, splicing). Prints one JSON line.
#   python3 l4-peer.py banner PORT
#       server that speaks first: sends BANNER on accept, then echoes until the client's
#       half-close, then half-closes itself.
#   python3 l4-peer.py client HOST PORT KIND SIZE
#       KIND: opaque (first bytes in two writes 30 ms apart, then SIZE bytes), tls (a real
#       ClientHello naming HOST first), banner (read BANNER before sending), http (a request
#       line cut in two writes 30 ms apart, to a server answering HTTP; SIZE ignored).
#       rtt: SIZE round trips of 1 KiB on one connection, timed (p50 and mean, microseconds).
#       Echo kinds: SIZE bytes sent while the echo is read, then a half-close; the echo must be
#       byte for byte what was sent, then end.
import hashlib, json, socket, ssl, sys, threading, time

BANNER = b"220 l4-peer ready\r\n"


def serve_banner(port):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(64)
    print(json.dumps({"listening": port}), flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=banner_then_echo, args=(conn,), daemon=True).start()


def banner_then_echo(conn):
    with conn:
        conn.sendall(BANNER)
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)


def pattern(size):
    block = hashlib.sha256(b"l4-peer").digest() * 2048
    return (block * (size // len(block) + 1))[:size]


def client_hello(host):
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=host)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def first_writes(kind, host):
    if kind == "tls":
        return [client_hello(host)]
    if kind == "opaque":
        return [b"\x00\x01opaque", b"-first-bytes\n"]
    return []


def exchange(sock, kind, host, size):
    head = b""
    if kind == "banner":
        while len(head) < len(BANNER):
            chunk = sock.recv(len(BANNER) - len(head))
            if not chunk:
                break
            head += chunk
    firsts = first_writes(kind, host)
    payload = pattern(size)
    sent = b"".join(firsts) + payload
    received = []

    def send():
        for i, first in enumerate(firsts):
            sock.sendall(first)
            if i + 1 < len(firsts):
                time.sleep(0.03)
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)

    sender = threading.Thread(target=send)
    sender.start()
    while True:
        data = sock.recv(1 << 20)
        if not data:
            break
        received.append(data)
    sender.join()
    echoed = b"".join(received)
    return {
        "kind": kind, "banner_ok": kind != "banner" or head == BANNER,
        "sent": len(sent), "received": len(echoed) + len(head),
        "echo_ok": echoed == sent,
        "first_mismatch": None if echoed == sent else next(
            (i for i, (a, b) in enumerate(zip(echoed, sent)) if a != b), min(len(echoed), len(sent))),
    }


def http(sock, host):
    sock.sendall(b"GET /split HT")
    time.sleep(0.03)
    sock.sendall(b"TP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n")
    answer = b""
    while True:
        data = sock.recv(65536)
        if not data:
            break
        answer += data
    status = answer.split(b"\r\n", 1)[0].decode(errors="replace")
    return {"kind": "http", "status": status, "echo_ok": status.endswith(" 200 OK")}


def round_trips(sock, count):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    message, times = pattern(1024), []
    for _ in range(count):
        start = time.perf_counter()
        sock.sendall(message)
        got = 0
        while got < len(message):
            got += len(sock.recv(len(message) - got))
        times.append((time.perf_counter() - start) * 1e6)
    times.sort()
    return {"kind": "rtt", "echo_ok": True, "p50_us": round(times[len(times) // 2], 1),
            "mean_us": round(sum(times) / len(times), 1)}


def client(host, port, kind, size):
    sock = socket.create_connection((host, port), timeout=30)
    with sock:
        if kind == "http":
            result = http(sock, host)
        elif kind == "rtt":
            result = round_trips(sock, size)
        else:
            result = exchange(sock, kind, host, size)
    print(json.dumps(result), flush=True)
    return 0 if result["echo_ok"] and result.get("banner_ok", True) else 1


if __name__ == "__main__":
    if sys.argv[1] == "banner":
        serve_banner(int(sys.argv[2]))
    else:
        sys.exit(client(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])))
