#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A client of latchd's IPC that parses nothing it is not asked to: what latchd
sends, as it crosses the wire, and what a program that ignores answers does.

  raw-client.py SOCKET list       every string of every LIST and PEER_LIST entry,
                                  "ATTR value" (a value that is no clean text marked
                                  UNCLEAN, and then exit 1)
  raw-client.py SOCKET hello-name NAME_HEX
                                  a HELLO whose NAME is these bytes: prints the reply's
                                  status and MESSAGE
  raw-client.py SOCKET listen PORT
                                  LISTEN with a TCP socket listening on PORT; prints
                                  "listen status=S" and keeps both until killed, whatever
                                  the reply said

Clean text (src/shared/text.h): UTF-8 without C0, DEL, C1, U+2028-U+202E, U+2066-U+2069.
"""
import signal
import socket
import struct
import sys

HELLO, LISTEN, PEER_LIST, LIST = 100, 201, 300, 401
F_REPLY, F_MORE = 1, 2
A_VERSION, A_NAME, A_MESSAGE = 1, 3, 4
STRINGS = {3: "NAME", 4: "MESSAGE", 40: "PROT_POLICY_NAME", 64: "IDENT_ID",
           66: "IDENT_CERT_SUBJECT", 67: "IDENT_CERT_ISSUER", 69: "IDENT_AUDIT",
           116: "SA_ENCR_ALG", 117: "SA_INTEG_ALG"}
NESTS = range(16, 32)


def attr(t, v):
    return struct.pack(">HH", 4 + len(v), t) + v + b"\0" * (-len(v) % 4)


def send(s, mtype, seq, body=b""):
    s.send(struct.pack(">HHIi", mtype, 0, seq, 0) + body)


def recv(s):
    m = s.recv(65536)
    mtype, flags, seq, status = struct.unpack_from(">HHIi", m)
    return mtype, flags, seq, status, m[12:]


def attrs(b):
    off = 0
    while off + 4 <= len(b):
        ln, t = struct.unpack_from(">HH", b, off)
        yield t, b[off + 4:off + ln]
        off += (ln + 3) & ~3


def strings(b):
    for t, v in attrs(b):
        if t in NESTS:
            yield from strings(v)
        elif t in STRINGS:
            yield STRINGS[t], v[:-1]


def clean(v):
    try:
        text = v.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(c < 0x20 or 0x7F <= c <= 0x9F or 0x2028 <= c <= 0x202E or
                   0x2066 <= c <= 0x2069 for c in map(ord, text))


def connect(path, name=b"wire-strings"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    send(s, HELLO, 1, attr(A_VERSION, struct.pack(">I", 1)) + attr(A_NAME, name + b"\0"))
    return s, recv(s)


def dump(s, mtype, seq):
    send(s, mtype, seq)
    while True:
        _, flags, rseq, status, body = recv(s)
        if rseq != seq or not flags & F_REPLY:
            continue  # an ALERT
        if status < 0 or not flags & F_MORE:
            return
        yield body


def main():
    path, what = sys.argv[1], sys.argv[2]
    if what == "hello-name":
        _, (_, _, _, status, body) = connect(path, bytes.fromhex(sys.argv[3]))
        msg = dict(attrs(body)).get(A_MESSAGE, b"\0")[:-1]
        print(f"status={status} message={msg.decode('utf-8', 'backslashreplace')}")
        return 0
    s, _ = connect(path)
    if what == "listen":
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("0.0.0.0", int(sys.argv[3])))
        ls.listen()
        socket.send_fds(s, [struct.pack(">HHIi", LISTEN, 0, 2, 0)], [ls.fileno()])
        print(f"listen status={recv(s)[3]}", flush=True)
        signal.pause()
    bad = 0
    for seq, mtype in ((2, LIST), (3, PEER_LIST)):
        for entry in dump(s, mtype, seq):
            for name, v in strings(entry):
                ok = clean(v)
                bad += not ok
                text = v.decode("utf-8", "backslashreplace")
                print(f"{name} {text}{'' if ok else ' UNCLEAN'}")
    return 1 if bad else 0


sys.exit(main())
