#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Stand in for journald's native socket: bind SOCK (a datagram socket), parse
every datagram by the native protocol (KEY=value lines, or KEY, a 64-bit
little-endian length and the value), append it to OUT as one JSON object a
line. Runs until killed.
Usage: journal.py SOCK OUT
"""
import json
import os
import socket
import struct
import sys


def fields(d):
    out, i = {}, 0
    while i < len(d):
        nl = d.index(b"\n", i)
        line = d[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            (n,) = struct.unpack("<Q", d[nl + 1:nl + 9])
            v = d[nl + 9:nl + 9 + n]
            if d[nl + 9 + n:nl + 10 + n] != b"\n":
                raise ValueError("binary field without its newline")
            i = nl + 10 + n
        out[k.decode()] = v.decode("utf-8")  # strict: latchd sends UTF-8
    return out


def main(path, out):
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    with open(out, "a", encoding="utf-8") as f:
        while True:
            d = s.recv(65536)
            try:
                f.write(json.dumps(fields(d)) + "\n")
            except (ValueError, UnicodeDecodeError) as e:
                f.write(json.dumps({"INVALID": str(e), "RAW": d.hex()}) + "\n")
            f.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
