# Captures every frame on every interface of the namespace it runs in (AF_PACKET) for SECONDS,
# then prints one JSON line: how many frames carried NEEDLE, and how many were TCP to or from
# port 15008 (the tunnel).  Usage: python3 fabric-capture.py SECONDS NEEDLE
import json, socket, struct, sys, time

seconds, needle = float(sys.argv[1]), sys.argv[2].encode()
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
sock.settimeout(0.2)
print(json.dumps({"ready": True}), flush=True)
found = tunnel = frames = 0
end = time.time() + seconds
while time.time() < end:
    try:
        frame = sock.recv(65535)
    except socket.timeout:
        continue
    frames += 1
    if needle in frame:
        found += 1
    # Ethernet + IPv4 + TCP ports.
    if len(frame) > 38 and frame[12:14] == b"\x08\x00" and frame[23] == 6:
        ihl = (frame[14] & 0x0F) * 4
        sport, dport = struct.unpack("!HH", frame[14 + ihl:18 + ihl])
        if 15008 in (sport, dport):
            tunnel += 1
print(json.dumps({"frames": frames, "needle": found, "tunnel": tunnel}), flush=True)
