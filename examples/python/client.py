#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A latched client: connect to HOST PORT only through IPsec with PEER, print who
answered, send MESSAGE and print the answer.

    python3 client.py 192.0.2.2 8080 b.example hello
"""
import socket
import sys

import latch

host, port, peer, message = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with socket.socket() as s:
    try:
        info = latch.connect(s, (host, port), peer=peer)
    except latch.LatchError as e:  # PeerRefused, NoSA, DaemonUnavailable, ...
        sys.exit("latch.connect: %s" % e)
    r = info.remote
    print("peer id=%s subject=%s auth=%s pubkey=%s cb=%s" % (
        r.id, r.subject, r.auth, r.pubkey_sha256.hex(), info.channel_binding.hex()))
    f = s.makefile("rwb")
    f.write(message.encode() + b"\n")
    f.flush()
    for _ in range(2):  # a greeting, if the server sends one, then the echo
        line = f.readline().decode().strip()
        print("answer", line)
        if line == message:
            break
