#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A client of latchd's control socket that speaks the wire format itself
(docs/ipc.md), so that it can do what liblatch never does: go away at a
chosen step of a request, hold connections without a word, or ask without
reading the answers.

  rawclient.py SOCK drop KIND STEP PEER_ADDR PORT PEER_ID
      KIND: listen connect latch attach accept query watch
      STEP: hello   (HELLO sent, its reply never read)
            sent    (the request sent, the connection closed at once)
            answered (the reply read, then closed without BYE)
      prints "status N" (the reply's status, or "none") and exits
  rawclient.py SOCK hold N SECONDS
      N connections, each sending HELLO; prints how many were answered
      0 and how many were refused (and why), then holds them idle
  rawclient.py SOCK flood CONNS SECONDS
      CONNS connections send STATUS and LIST without ever reading; prints
      how many latchd closed ("dropped N") when SECONDS are over
  rawclient.py SOCK impostor GOFILE
      connects (HELLO answered), prints "pid P" and leaves the connection
      to a child while P exits; once GOFILE exists the child asks LIST for
      root's latches and prints "root-latches N" (what latchd let it see)
  rawclient.py SOCK strings
      every string of every LIST and PEER_LIST entry as it crosses the wire,
      "ATTR value" (a value that is no clean text marked UNCLEAN, and then
      exit 1). Clean text (src/shared/text.h): UTF-8 without C0, DEL, C1,
      U+2028-U+202E, U+2066-U+2069
  rawclient.py SOCK hello-name NAME_HEX
      a HELLO whose NAME is these bytes: prints the reply's status and MESSAGE
  rawclient.py SOCK listen-keep PORT
      LISTEN with a TCP socket listening on PORT; prints "listen status=S"
      and keeps both until killed, whatever the reply said
"""
import os
import resource
import select
import signal
import socket
import struct
import sys
import time

HELLO, CONNECT, LISTEN, ACCEPT, LATCH, QUERY, ATTACH = 100, 200, 201, 202, 203, 204, 207
PEER_LIST, STATUS, LIST, WATCH = 300, 400, 401, 402
F_REPLY, F_MORE = 1, 2
A_VERSION, A_NAME, A_MESSAGE, A_PEER, A_TUPLE, OWNER, OWNER_UID = 1, 3, 4, 17, 20, 21, 97
STRINGS = {3: 'NAME', 4: 'MESSAGE', 40: 'PROT_POLICY_NAME', 64: 'IDENT_ID',
           66: 'IDENT_CERT_SUBJECT', 67: 'IDENT_CERT_ISSUER', 69: 'IDENT_AUDIT',
           116: 'SA_ENCR_ALG', 117: 'SA_INTEG_ALG'}
NESTS = range(16, 32)
PEER_ID = 48
T_FAMILY, T_PROTO, T_REMOTE_ADDR, T_REMOTE_PORT = 80, 81, 84, 85


def attr(t, v):
    a = struct.pack('>HH', 4 + len(v), t) + v
    return a + b'\0' * (-len(a) % 4)


def msg(t, seq, *attrs):
    return struct.pack('>HHIi', t, 0, seq, 0) + b''.join(attrs)


def hello(seq=1):
    return msg(HELLO, seq, attr(A_VERSION, struct.pack('>I', 1)))


def status_of(pkt):
    if len(pkt) < 12:
        return None
    return struct.unpack('>HHIi', pkt[:12])[3]


def attrs(b):
    """(type, value) of each attribute of a message's body, or of a nest."""
    off = 0
    while off + 4 <= len(b):
        n, t = struct.unpack_from('>HH', b, off)
        if n < 4:
            break
        yield t, b[off + 4:off + n]
        off += (n + 3) & ~3


def message_of(pkt):
    return dict(attrs(pkt[12:])).get(A_MESSAGE, b'').rstrip(b'\0').decode(errors='replace')


def ctl(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    return s


def reply(s, seq, timeout=30):
    """The reply to seq (events skipped), or None when the connection ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # poll, not select: a flood's descriptors pass FD_SETSIZE (1024)
        p = select.poll()
        p.register(s, select.POLLIN)
        if not p.poll(max(0.0, deadline - time.monotonic()) * 1000):
            return None
        try:
            pkt, _, _, _ = socket.recv_fds(s, 65536, 1)
        except OSError:
            return None
        if not pkt:
            return None
        flags, pseq = struct.unpack('>HI', pkt[2:8])
        if flags & 1 and pseq == seq:
            return pkt
    return None


def peer(ident):
    return attr(A_PEER, attr(PEER_ID, ident.encode() + b'\0'))


def tcp_listener(local, port=0):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((local, port))
    t.listen(4)
    return t


def request(kind, peer_addr, port, peer_id, keep, keep_ctl):
    """The request of KIND and the socket it carries (kept alive in keep)."""
    local = os.environ.get('LOCAL_ADDR', '0.0.0.0')
    if kind == 'listen':
        t = tcp_listener(local)
        keep.append(t)
        return msg(LISTEN, 2), t.fileno()
    if kind == 'connect':
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind((local, 0))
        keep.append(t)
        tup = attr(A_TUPLE, attr(T_FAMILY, b'\1') + attr(T_PROTO, b'\6') +
                   attr(T_REMOTE_ADDR, socket.inet_aton(peer_addr)) +
                   attr(T_REMOTE_PORT, struct.pack('>H', port)))
        return msg(CONNECT, 2, tup, peer(peer_id)), t.fileno()
    if kind == 'latch':
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((local, 0))
        u.connect((peer_addr, port))  # a datagram socket: connecting sends nothing
        keep.append(u)
        return msg(LATCH, 2, peer(peer_id)), u.fileno()
    if kind == 'attach':
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind((local, 0))
        keep.append(t)
        return msg(ATTACH, 2, peer(peer_id)), t.fileno()
    if kind == 'accept':
        lst = tcp_listener(local)
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.connect(lst.getsockname())
        a, _ = lst.accept()
        keep.extend([lst, c, a])
        send(keep_ctl[0], msg(LISTEN, 3), lst.fileno())  # its listener latch, not waited for
        return msg(ACCEPT, 2), a.fileno()
    if kind == 'query':
        t = tcp_listener(local)
        keep.append(t)
        return msg(QUERY, 2), t.fileno()
    if kind == 'watch':
        return msg(WATCH, 2), -1
    raise SystemExit('unknown kind ' + kind)


def send(s, data, fd):
    if fd >= 0:
        socket.send_fds(s, [data], [fd])
    else:
        s.send(data)


def drop(path, kind, step, peer_addr, port, peer_id):
    keep = []
    s = ctl(path)
    s.send(hello())
    if step == 'hello':
        s.close()
        print('status none')
        return
    if status_of(reply(s, 1) or b'') != 0:
        raise SystemExit('HELLO refused')
    data, fd = request(kind, peer_addr, int(port), peer_id, keep, [s])
    send(s, data, fd)
    if step == 'sent':
        s.close()
        print('status none')
        return
    pkt = reply(s, 2, timeout=15) or b''
    st = status_of(pkt)
    s.close()
    if kind == 'connect' and st == 0:
        # latched with its client gone: the socket's bytes still go as ESP only
        keep[0].connect((peer_addr, int(port)))
        keep[0].sendall(b'CLIENTDROP\n')
        time.sleep(0.5)
    print('status', 'none' if st is None else st, message_of(pkt))


def hold(path, n, seconds):
    conns, ok, refused, why = [], 0, 0, set()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for _ in range(int(n)):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.settimeout(2)  # a latchd that stopped accepting leaves connect waiting
            s.connect(path)
            s.send(hello())
        except TimeoutError:
            refused += int(n) - len(conns) - refused  # latchd stopped accepting: no use going on
            why.add('connect timed out')
            break
        except OSError as e:
            refused += 1
            why.add(e.strerror)
            continue
        conns.append(s)
    deadline = time.monotonic() + 10  # for all: a latchd that stopped reading answers none
    for s in conns:
        pkt = reply(s, 1, timeout=max(0.1, deadline - time.monotonic()))
        st = status_of(pkt or b'')
        if st == 0:
            ok += 1
        else:
            refused += 1
            why.add(message_of(pkt) if pkt else 'closed')
    print('answered', ok)
    print('refused', refused)
    for w in sorted(why):
        print('why', w)
    sys.stdout.flush()
    time.sleep(float(seconds))


def flood(path, n, seconds):
    conns = []
    for _ in range(int(n)):
        s = ctl(path)
        s.send(hello())
        s.setblocking(False)
        conns.append(s)
    live, seq, deadline = set(conns), 2, time.monotonic() + float(seconds)
    while live and time.monotonic() < deadline:
        p = select.poll()
        for s in live:
            p.register(s, select.POLLOUT)
        by_fd = {s.fileno(): s for s in live}
        for fd, _ in p.poll(200):
            s = by_fd[fd]
            try:
                s.send(msg(STATUS if seq % 2 else LIST, seq))
                seq += 1
            except BlockingIOError:
                pass
            except OSError:
                live.discard(s)  # latchd closed it
    print('dropped', len(conns) - len(live))
    print('sent', seq - 2)


def impostor(path, gofile):
    s = ctl(path)
    s.send(hello())
    if status_of(reply(s, 1) or b'') != 0:
        raise SystemExit('HELLO refused')
    print('pid', os.getpid(), flush=True)
    if os.fork():
        os._exit(0)  # the pid latchd recorded is free for the next process
    while not os.path.exists(gofile):
        time.sleep(0.1)
    owner = attr(OWNER, attr(OWNER_UID, struct.pack('>I', 0)))
    s.send(msg(LIST, 2, owner))
    n = 0
    while True:
        pkt = reply(s, 2, timeout=10)
        if not pkt or not struct.unpack('>H', pkt[2:4])[0] & 2:
            break
        n += 1
    print('root-latches', n, 'status', status_of(pkt or b''), flush=True)


def strings_of(b):
    for t, v in attrs(b):
        if t in NESTS:
            yield from strings_of(v)
        elif t in STRINGS:
            yield STRINGS[t], v[:-1]


def clean(v):
    try:
        text = v.decode('utf-8')
    except UnicodeDecodeError:
        return False
    return not any(c < 0x20 or 0x7F <= c <= 0x9F or 0x2028 <= c <= 0x202E or
                   0x2066 <= c <= 0x2069 for c in map(ord, text))


def named(path, name=b'wire-strings'):
    """A connection whose HELLO carries NAME, and HELLO's reply."""
    s = ctl(path)
    s.send(msg(HELLO, 1, attr(A_VERSION, struct.pack('>I', 1)), attr(A_NAME, name + b'\0')))
    return s, reply(s, 1)


def dump(s, mtype, seq):
    """The entries of a LIST-like dump (ALERTs skipped)."""
    s.send(msg(mtype, seq))
    while True:
        pkt = reply(s, seq)
        if not pkt or status_of(pkt) < 0 or not struct.unpack('>H', pkt[2:4])[0] & F_MORE:
            return
        yield pkt[12:]


def strings(path):
    s, _ = named(path)
    bad = 0
    for seq, mtype in ((2, LIST), (3, PEER_LIST)):
        for entry in dump(s, mtype, seq):
            for name, v in strings_of(entry):
                ok = clean(v)
                bad += not ok
                text = v.decode('utf-8', 'backslashreplace')
                print(f"{name} {text}{'' if ok else ' UNCLEAN'}")
    sys.exit(1 if bad else 0)


def hello_name(path, name_hex):
    _, pkt = named(path, bytes.fromhex(name_hex))
    print(f'status={status_of(pkt or b"")} message={message_of(pkt or b"")}')


def listen_keep(path, port):
    s, _ = named(path)
    ls = tcp_listener('0.0.0.0', int(port))
    send(s, msg(LISTEN, 2), ls.fileno())
    print(f'listen status={status_of(reply(s, 2) or b"")}', flush=True)
    signal.pause()


def main(argv):
    path, cmd, args = argv[1], argv[2], argv[3:]
    {'drop': drop, 'hold': hold, 'flood': flood, 'impostor': impostor, 'strings': strings,
     'hello-name': hello_name, 'listen-keep': listen_keep}[cmd](path, *args)


if __name__ == '__main__':
    main(sys.argv)
