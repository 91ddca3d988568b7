#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The attacker of netns-socket.t: sockets that look like another user's, passed to latchd.

  netns-socket.py foreign PORT CLIENT_ADDR CLIENT_PORT SERVER_ADDR ATTACH_PORT FREE_PORT LATCH_ID
      in a network namespace of its own (run under unshare -rn): loopback gets both
      addresses; a dual-stack listener on [::]:PORT and its accepted connection from
      CLIENT_ADDR:CLIENT_PORT look like the victim's listener and connection; each
      request with them prints "NAME STATUS".
  netns-socket.py udp PORT
      in latchd's namespace: a UDP socket bound to [::]:PORT beside the victim's
      (SO_REUSEADDR), QUERY and RELEASE with it.
  netns-socket.py attach PORT GO
      in latchd's namespace: binds [::]:PORT (SO_REUSEADDR), prints "bound", waits
      for the file GO, ATTACHes the socket, prints "attach STATUS" and keeps it.

The socket to latchd is LATCH_SOCKET; STATUS is the reply's status (0 or -errno).
"""
import os
import socket
import struct
import subprocess
import sys
import time

MSG = {'HELLO': 100, 'LISTEN': 201, 'LATCH': 203, 'QUERY': 204, 'RELEASE': 205,
       'CLOSE': 206, 'ATTACH': 207}
A_VERSION, A_MESSAGE, A_LATCH_ID = 1, 4, 5


class Latchd:
    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.connect(os.environ['LATCH_SOCKET'])
        self.seq = 0
        assert self.req('HELLO', struct.pack('>HHI', 8, A_VERSION, 1)) == 0

    def req(self, kind, attrs=b'', fd=None):
        self.seq += 1
        m = struct.pack('>HHIi', MSG[kind], 0, self.seq, 0) + attrs
        if fd is None:
            self.s.send(m)
        else:
            socket.send_fds(self.s, [m], [fd.fileno()])
        while True:  # skip events (seq 0)
            r, fds, _, _ = socket.recv_fds(self.s, 65536, 1)
            for f in fds:
                os.close(f)
            if struct.unpack('>I', r[4:8])[0] == self.seq:
                break
        status = struct.unpack('>i', r[8:12])[0]
        alen, atype = struct.unpack('>HH', r[12:16]) if len(r) >= 16 else (0, 0)
        if status < 0 and atype == A_MESSAGE:
            print('msg %s: %s' % (kind, r[16:12 + alen].rstrip(b'\0').decode()))
        return status


def latch_id(i):
    return struct.pack('>HHQ', 12, A_LATCH_ID, i)


def tcp_dual(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('::', port))
    return s


def foreign(port, caddr, cport, saddr, attach_port, free_port, victim_id):
    for cmd in (['ip', 'link', 'set', 'lo', 'up'],
                ['ip', 'addr', 'add', caddr + '/32', 'dev', 'lo'],
                ['ip', 'addr', 'add', saddr + '/32', 'dev', 'lo']):
        subprocess.run(cmd, check=True)
    lst = tcp_dual(port)
    lst.listen(4)
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cli.bind((caddr, cport))
    cli.connect((saddr, port))
    conn, _ = lst.accept()  # the victim's 5-tuple, seen from the server
    other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    other.bind((saddr, free_port))
    other.listen(1)
    peer = socket.create_connection((saddr, free_port))
    free_conn, _ = other.accept()
    unconnected = tcp_dual(attach_port)  # a root service's port, bound in here
    free_lst = tcp_dual(free_port + 1)
    free_lst.listen(1)
    d = Latchd()
    print('query-listener', d.req('QUERY', fd=lst))
    print('query-connection', d.req('QUERY', fd=conn))
    print('close', d.req('CLOSE', latch_id(victim_id), fd=conn))
    print('attach', d.req('ATTACH', fd=unconnected))
    print('latch', d.req('LATCH', fd=free_conn))
    print('listen', d.req('LISTEN', fd=free_lst))
    print('release-connection', d.req('RELEASE', fd=conn))
    print('release-listener', d.req('RELEASE', fd=lst))
    print('after', d.req('QUERY', latch_id(victim_id)))
    peer.close()


def udp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('::', port))
    d = Latchd()
    print('query-udp', d.req('QUERY', fd=s))
    print('release-udp', d.req('RELEASE', fd=s))


def attach(port, go):
    s = tcp_dual(port)
    print('bound', flush=True)
    while not os.path.exists(go):
        time.sleep(0.1)
    d = Latchd()
    print('attach', d.req('ATTACH', fd=s), flush=True)
    while True:
        time.sleep(60)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == 'foreign':
        foreign(int(args[0]), args[1], int(args[2]), args[3], int(args[4]), int(args[5]),
                int(args[6]))
    elif mode == 'udp':
        udp(int(args[0]))
    else:
        attach(int(args[0]), args[1])
    sys.stdout.flush()


if __name__ == '__main__':
    main()
