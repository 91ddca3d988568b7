#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Traffic for lab tests: a sink that records what it receives, and a sender
that writes numbered marker lines at an interval over TCP or UDP.

  flow.py sink PORT OUT [--udp]          record every byte received into OUT
  flow.py send ADDR PORT MARKER [--sport P] [--count N] [--interval S]
                                 [--udp] [--connect-timeout S]

The sender prints one line when it ends: 'sent N' or 'error ERRNO-NAME after N'.
It exits 0 only when every line was written.
"""
import argparse
import errno
import socket
import sys
import threading
import time


def family(addr):
    return socket.AF_INET6 if ':' in addr else socket.AF_INET


def sink(args):
    fam = socket.AF_INET6
    kind = socket.SOCK_DGRAM if args.udp else socket.SOCK_STREAM
    srv = socket.socket(fam, kind)
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('::', args.port))
    out = open(args.out, 'ab', buffering=0)
    lock = threading.Lock()
    if args.udp:
        while True:
            data, _ = srv.recvfrom(65536)
            out.write(data)
    srv.listen(64)

    def serve(conn):
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                with lock:
                    out.write(data)

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def send(args):
    kind = socket.SOCK_DGRAM if args.udp else socket.SOCK_STREAM
    s = socket.socket(family(args.addr), kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if args.sport:
        s.bind(('::' if family(args.addr) == socket.AF_INET6 else '0.0.0.0', args.sport))
    s.settimeout(args.connect_timeout)
    sent = 0
    try:
        s.connect((args.addr, args.port))
        s.settimeout(None)
        for i in range(args.count):
            s.sendall(f'{args.marker}-{i}\n'.encode())
            sent += 1
            if i + 1 < args.count:
                time.sleep(args.interval)
    except OSError as e:
        name = errno.errorcode.get(e.errno, 'ETIMEDOUT' if isinstance(e, TimeoutError) else '?')
        print(f'error {name} after {sent}', flush=True)
        return 1
    print(f'sent {sent}', flush=True)
    s.close()
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest='cmd', required=True)
    a = sub.add_parser('sink')
    a.add_argument('port', type=int)
    a.add_argument('out')
    a.add_argument('--udp', action='store_true')
    b = sub.add_parser('send')
    b.add_argument('addr')
    b.add_argument('port', type=int)
    b.add_argument('marker')
    b.add_argument('--sport', type=int, default=0)
    b.add_argument('--count', type=int, default=1)
    b.add_argument('--interval', type=float, default=0.05)
    b.add_argument('--udp', action='store_true')
    b.add_argument('--connect-timeout', type=float, default=5.0)
    args = p.parse_args()
    return sink(args) if args.cmd == 'sink' else send(args)


if __name__ == '__main__':
    sys.exit(main())
