#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A latched server: admit the peers of latchd's CAs on PORT, print who each
one is (IKE authenticated it) and echo what it sends.

    python3 server.py 8080
"""
import socket
import sys

import latch

srv = socket.create_server(("::", int(sys.argv[1])), family=socket.AF_INET6,
                           dualstack_ipv6=True)
latch.listen(srv)
print("listening", flush=True)
while True:
    try:
        conn, addr, info = latch.accept(srv)
    except latch.NoSA as e:  # a connection without an acceptable SA: latchd reset it
        print("refused:", e, flush=True)
        continue
    print("peer id=%s subject=%s auth=%s cb=%s" % (info.remote.id, info.remote.subject,
                                                   info.remote.auth,
                                                   info.channel_binding.hex()), flush=True)
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)
