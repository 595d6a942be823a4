#!/usr/bin/env python3
"""A stand-in for systemd-journald's native socket, for 89-journal.sh: binds
SOCKET, and appends each datagram received, decoded from the native journal
protocol (KEY=VALUE lines, or KEY, a little-endian 64-bit length and the
bytes for values holding a newline), to OUT as one JSON object per line."""
import json
import os
import socket
import struct
import sys


def decode(data):
    fields, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        fields[k.decode()] = v.decode("utf-8", "replace")
    return fields


def main():
    path, out = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    with open(out + ".ready", "w"):
        pass
    while True:
        data = s.recv(1 << 20)
        with open(out, "a") as f:
            f.write(json.dumps(decode(data)) + "\n")


main()
