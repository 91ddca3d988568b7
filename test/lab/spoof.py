#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Spoof one IPv4 TCP segment onto a link, bypassing the sender's routing,
IPsec and firewall: the frame is written with an AF_PACKET socket, as an
attacker on the path (or a peer that knows the sequence state) would.

  spoof.py IFACE DST_MAC SRC SPORT DST DPORT SEQ ACK FLAGS [PAYLOAD]

FLAGS is a string of TCP flag letters (F S R P A U), e.g. PA for data, R for
a reset. Prints one line: 'sent N bytes'.
"""
import socket
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack(f'!{len(data) // 2}H', data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def segment(src, sport, dst, dport, seq, ack, flags, payload):
    bits = {'F': 0x01, 'S': 0x02, 'R': 0x04, 'P': 0x08, 'A': 0x10, 'U': 0x20}
    fl = 0
    for c in flags:
        fl |= bits[c]
    saddr, daddr = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, 5 << 4, fl, 65535, 0, 0) + payload
    pseudo = saddr + daddr + struct.pack('!BBH', 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 0x4c41, 0x4000, 64,
                     socket.IPPROTO_TCP, 0, saddr, daddr)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return ip + tcp


def main(argv):
    if len(argv) not in (10, 11):
        print(__doc__, file=sys.stderr)
        return 2
    iface, dmac, src, sport, dst, dport, seq, ack, flags = argv[1:10]
    payload = argv[10].encode() if len(argv) == 11 else b''
    pkt = segment(src, int(sport), dst, int(dport), int(seq) & 0xffffffff,
                  int(ack) & 0xffffffff, flags, payload)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    smac = s.getsockname()[4]
    frame = bytes.fromhex(dmac.replace(':', '')) + smac + struct.pack('!H', 0x0800) + pkt
    n = s.send(frame)
    print(f'sent {n} bytes', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
