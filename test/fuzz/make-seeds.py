#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora of the fuzz targets that start from data made here
rather than captured: netlink messages as the kernel sends them, VICI events
charon sends (from the golden vectors of test/unit/vici-golden.h and built
like them), IPC replies (from fuzz-wire's golden seeds), pins and
configuration lines as latchd and the lab write them. Run from the top of the
tree; it rewrites test/fuzz/corpus/<target>/seed-*."""
import os
import re
import struct
import subprocess
import tempfile

CORPUS = 'test/fuzz/corpus'


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(bytes(data))


def nlmsg(mtype, flags, payload):
    msg = struct.pack('=IHHII', 16 + len(payload), mtype, flags, 1, 0) + payload
    return msg + b'\0' * (-len(msg) % 4)


def nla(atype, payload):
    a = struct.pack('=HH', 4 + len(payload), atype) + payload
    return a + b'\0' * (-len(a) % 4)


def ipv4_tcp_syn():
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 40, 1, 0x4000, 64, 6, 0,
                     bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]))
    tcp = struct.pack('!HHIIBBHHH', 40000, 8080, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
    return ip + tcp


def ipv6_udp_hbh():
    hbh = bytes([17, 0, 1, 4, 0, 0, 0, 0])
    udp = struct.pack('!HHHH', 40001, 5353, 12, 0) + b'ping'
    src = bytes.fromhex('20010db8000000000000000000000001')
    dst = bytes.fromhex('20010db8000000000000000000000002')
    ip = struct.pack('!IHBB', 6 << 28, len(hbh) + len(udp), 0, 64) + src + dst
    return ip + hbh + udp


def nfq_seeds():
    # NFQNL_MSG_PACKET of subsystem NFNL_SUBSYS_QUEUE (3), after a nfgenmsg.
    for name, proto, pkt in (('v4-syn', 0x0800, ipv4_tcp_syn()), ('v6-udp', 0x86dd, ipv6_udp_hbh())):
        body = struct.pack('=BBH', 2 if proto == 0x0800 else 10, 0, struct.unpack('=H', struct.pack('!H', 207))[0])
        body += nla(1, struct.pack('!IHB', 7, proto, 3) + b'\0')
        body += nla(3, struct.pack('!I', 0x100))
        body += nla(10, pkt)
        put('fuzz-nfq', name, nlmsg(3 << 8 | 0, 0, body))
    put('fuzz-nfq', 'two', nlmsg(3 << 8, 0, body) * 2)


def diag_msg(family, proto, sport, dport, src, dst, cookie):
    sid = struct.pack('!HH', sport, dport) + src.ljust(16, b'\0') + dst.ljust(16, b'\0')
    sid += struct.pack('=III', 0, cookie & 0xffffffff, cookie >> 32)
    msg = struct.pack('=BBBB', family, 7, 0, 0) + sid + struct.pack('=IIIII', 0, 0, 0, 1000, 4242)
    assert len(msg) == 72
    return nlmsg(20, 0, msg + nla(10, bytes([proto])))


def sockdiag_seeds():
    a, b = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])
    mapped = lambda x: b'\0' * 10 + b'\xff\xff' + x
    v6a = bytes.fromhex('20010db8000000000000000000000001')
    put('fuzz-sockdiag', 'v4-tcp', diag_msg(2, 6, 40000, 8080, a, b, 0x1234))
    put('fuzz-sockdiag', 'v6-udp', diag_msg(10, 17, 40001, 5353, v6a, v6a, 0x5678))
    put('fuzz-sockdiag', 'mapped-two', diag_msg(10, 6, 40000, 8080, mapped(a), mapped(b), 9) +
        diag_msg(2, 6, 40000, 0, a, b'', 10))


def vici_golden():
    text = open('test/unit/vici-golden.h').read()
    out = {}
    for name, body in re.findall(r'static const char (GOLDEN_\w+)\[\] =\s*((?:"[^"]*"\s*)+);', text):
        out[name] = bytes.fromhex(''.join(re.findall(r'"([^"]*)"', body)))
    return out


def vici_enc(items):
    """items: list of (name, value) with value str, list of str, or a nested list."""
    out = b''
    for k, v in items:
        kb = k.encode()
        if isinstance(v, str):
            out += bytes([3, len(kb)]) + kb + struct.pack('!H', len(v)) + v.encode()
        elif v and isinstance(v[0], str):
            out += bytes([4, len(kb)]) + kb
            for it in v:
                out += bytes([5]) + struct.pack('!H', len(it)) + it.encode()
            out += bytes([6])
        else:
            out += bytes([1, len(kb)]) + kb + vici_enc(v) + bytes([2])
    return out


def vici_event(name, items):
    body = bytes([7, len(name)]) + name.encode() + vici_enc(items)
    return struct.pack('!I', len(body)) + body


def ike(uid, state='ESTABLISHED', children=()):
    return [('uniqueid', str(uid)), ('state', state), ('local-host', '192.0.2.1'),
            ('remote-host', '192.0.2.2'), ('local-id', 'a.example'), ('remote-id', 'b.example'),
            ('initiator', 'yes'), ('encr-alg', 'AES_GCM_16'), ('encr-keysize', '256'),
            ('child-sas', list(children))]


def child(uid, state='INSTALLED', lport='40000'):
    return ('f8080-%d' % uid, [('name', 'f8080'), ('uniqueid', str(uid)), ('reqid', '1'),
                              ('state', state), ('mode', 'TRANSPORT'), ('protocol', 'ESP'),
                              ('spi-in', 'c1a2b3c4'), ('spi-out', 'd1a2b3c4'),
                              ('encr-alg', 'AES_GCM_16'), ('encr-keysize', '256'),
                              ('local-ts', ['192.0.2.1/32[tcp/%s]' % lport]),
                              ('remote-ts', ['192.0.2.2/32[tcp/http-alt]'])])


def sacache_seeds():
    g = vici_golden()
    put('fuzz-sacache', 'golden-sequence', g['GOLDEN_LIST_SA_EVENT'] + g['GOLDEN_IKE_UPDOWN_EVENT'] +
        g['GOLDEN_CHILD_UPDOWN_EVENT'])
    up = vici_event('child-updown', [('up', 'yes'), ('lab', ike(1, children=[child(1)]))])
    rekey = vici_event('child-rekey', [('lab', ike(1, children=[
        ('f8080-1', [('old', child(1, 'REKEYED')[1]), ('new', child(2)[1])])]))])
    ike_rekey = vici_event('ike-rekey', [('lab', [('old', ike(1)), ('new', ike(3))])])
    update = vici_event('ike-update', [('remote-host', '192.0.2.9'), ('lab', ike(3))])
    down = vici_event('ike-updown', [('lab', ike(3, 'DELETING'))])
    fail = vici_event('ike-updown', [('lab', ike(4, 'CONNECTING'))])
    put('fuzz-sacache', 'lifecycle', up + rekey + ike_rekey + update + down + fail)
    put('fuzz-sacache', 'list-sa', vici_event('list-sa', [('lab', ike(5, children=[child(6), child(7, 'INSTALLED', '40001')]))]))


def lib_seeds():
    # fuzz-wire's golden packets from latchd; its first byte says who sent
    # it (bit 0) and how many descriptors came (bits 1-2): here only bit 0,
    # one descriptor or none.
    d = os.path.join(CORPUS, 'fuzz-wire')
    for f in sorted(os.listdir(d)):
        data = open(os.path.join(d, f), 'rb').read()
        if data[0] & 1:
            put('fuzz-lib-info', f.replace('golden-', ''), bytes([1 if data[0] >> 1 & 3 else 0]) + data[1:])


def pins_seeds():
    put('fuzz-pins', 'name', b'%s 1796083200 b.example' % (b'ab' * 32))
    put('fuzz-pins', 'address', b'%s 0 2001:db8::2' % (b'0f' * 32))


def config_seeds():
    put('fuzz-config', 'shipped', open('etc/latchd.conf', 'rb').read())
    put('fuzz-config', 'lab', b'''socket = /tmp/lab/a/latchd.sock
state_dir = /tmp/lab/a/latch
data_dir = /tmp/lab/a/lib
btns_anchor = /etc/latch/btns/anchor.pem
btns_anchor_key = /etc/latch/btns/anchor.key
vici_socket = /tmp/lab/a/charon.vici
dpd_delay = 2s
initiate_timeout = 5s
cert = /tmp/lab/a/swanctl/x509/a.pem
key = /tmp/lab/a/swanctl/private/a.pem
ca = /tmp/lab/a/swanctl/x509ca/lab.pem
max_latches_per_uid = 2
data_plane = kernel
mark = 0x100
admin_group = 0
''')


def der(pem_path):
    return subprocess.run(['openssl', 'x509', '-in', pem_path, '-outform', 'DER'],
                          check=True, capture_output=True).stdout


def ident_seeds():
    with tempfile.TemporaryDirectory() as tmp:
        ident_seeds_in(tmp)


def ident_seeds_in(tmp):
    put('fuzz-ident', 'btns-anchor', b'\0' + der('etc/btns/anchor.pem'))
    # A lab certificate, made as test/lab/pki.sh makes them.
    key, ca, cert = (os.path.join(tmp, n) for n in ('k.pem', 'ca.pem', 'c.pem'))
    subprocess.run('pki --gen --type ecdsa --size 256 --outform pem >%s && '
                   'pki --self --ca --lifetime 30 --in %s --type ecdsa --dn "C=CH, O=latch-lab, CN=lab CA" '
                   '--outform pem >%s && pki --pub --in %s --type ecdsa | pki --issue --cacert %s '
                   '--cakey %s --lifetime 30 --dn "C=CH, O=latch-lab, CN=b.example" --san b.example '
                   '--san 192.0.2.2 --outform pem >%s' % (key, key, ca, key, ca, key, cert),
                   shell=True, check=True)
    put('fuzz-ident', 'lab-ca', b'\0' + der(ca))
    put('fuzz-ident', 'lab-cert', b'\0' + der(cert))
    put('fuzz-ident', 'pattern', b'\1C=CH, O=latch-lab, CN=*\0C=CH,O=latch-lab,CN = b.example')
    put('fuzz-ident', 'btns', b'\1O=BTNS, CN=*\0O=BTNS, CN=0123456789abcdef0123456789abcdef')


def core_seeds():
    # Programs for fuzz-core (fuzz-core.c reads them): a setup byte (bit 0:
    # kernel data plane; bits 1-3: enforcement faults), then operations.
    up, user, admin = [6, 0], [0, 0x01], [0, 0x00]

    def req(client, tidx, bits, fd, seq, extra):
        return [1, client, tidx, bits, fd, 0, seq] + extra
    # CONNECT passes the bound, unconnected TCP socket (6); LATCH the connected one (1).
    connect = req(0, 0, 0x06, 6, 2, [0x00, 0x03, 2, 2])
    latch = req(0, 3, 0x04, 1, 3, [0x00])
    listen = req(0, 1, 0x04, 0, 4, [0x00])
    query = req(0, 4, 0x01, 255, 5, [1])
    ok, sas, certs = [8, 0, 0], [8, 3, 0, 0, 0x08, 0, 0, 0, 6], [8, 3, 0]
    # child-updown up for latchd's first connection: its reqid, the CONNECT socket's port
    event_up, advance = [9, 1, 1, 0, 0x08, 0, 0, 0, 6], [11, 30]
    # charon up: list-sas; CONNECT: load-conn, initiate; the IKE_SA up: list-certs
    put('fuzz-core', 'connect-established', [0] + up + user + connect + ok + ok + event_up + ok +
        certs + query + advance)
    # then the child rekeyed (1 -> 2), the IKE_SA rekeyed (1 -> 2), the IKE_SA down
    rekeys = ([9, 2, 1, 0, 0x08, 0, 0, 1, 0, 6] + [9, 3, 1, 0, 0, 0x08, 1, 1, 0, 6] +
              [9, 0, 0, 0, 0x08, 1, 1, 0, 6])
    put('fuzz-core', 'established-rekeys-down', [1] + up + user + connect + ok + ok + event_up + ok +
        certs + rekeys + query + advance)
    put('fuzz-core', 'connect-kernel-drop', [1] + up + user + connect + ok + [4, 0] + advance)
    put('fuzz-core', 'listen-charon-down', [0] + up + user + listen + [7] + ok + [6, 1] + sas + advance)
    put('fuzz-core', 'latch-admin-list', [0] + up + admin + latch + req(0, 12, 0, 255, 6, []) +
        req(0, 11, 0, 255, 7, []) + ok + event_up + [12, 1, 0] + advance)
    put('fuzz-core', 'faults-break', [0x06] + up + user + [0, 0x02] + connect +
        req(1, 13, 0, 255, 9, []) + [5, 1] + ok + event_up + [9, 0, 0, 0, 0, 0, 0, 0] + advance)


if __name__ == '__main__':
    core_seeds()
    nfq_seeds()
    sockdiag_seeds()
    sacache_seeds()
    lib_seeds()
    pins_seeds()
    config_seeds()
    ident_seeds()
