# SPDX-License-Identifier: MIT
"""Python's latch package on the lab (test/python/python-latch.t): a latched client and
server, blocking and asyncio, printing what latch says, one line per fact.

  server PORT [--async] [--count N] [--pause FILE]
                                      listen, accept N connections, query each
                                      (after FILE appears), greet, echo
  client HOST PORT PEER MARKER [--async]
  attach HOST PORT PEER MARKER        latch.attach, then sock.connect itself
  watch SECONDS                       print every latch's events until SECONDS pass without one
  stream HOST PORT PEER MARKER        asyncio: write MARKER lines for a minute,
                                      print the events and how the stream ended
"""

import argparse
import asyncio
import hashlib
import os
import socket
import sys
import time

import latch


def out(*words):
    print(*words, flush=True)


def peer_line(info):
    r = info.remote
    return "peer id=%s subject=%s issuer=%s auth=%s pubkey=%s cb=%s state=%s cert=%s" % (
        r.id, r.subject, r.issuer, r.auth, (r.pubkey_sha256 or b"").hex(),
        (info.channel_binding or b"").hex(), info.state,
        hashlib.sha256(r.cert_der).hexdigest() if r.cert_der else None)


def fail(e):
    out("error %s errno=%s words=%s" % (type(e).__name__, e.errno, getattr(e, "explanation", "")))
    return 1


def serve_one(ctx, conn, info, pause):
    out(peer_line(info))
    if pause:  # the test stops latchd meanwhile: only the cache can answer
        for _ in range(100):
            if os.path.exists(pause):
                break
            time.sleep(0.1)
    again = ctx.query(conn)
    out("query", "same" if again.remote == info.remote and again.id == info.id else "differs")
    with conn:
        conn.sendall(("hello %s\n" % info.remote.subject).encode())
        while True:
            data = conn.recv(4096)
            if not data:
                return
            conn.sendall(data)


def server(a):
    srv = socket.create_server(("::", a.port), family=socket.AF_INET6, dualstack_ipv6=True)
    ctx = latch.Context(timeout=3)
    ctx.listen(srv)
    out("listening")
    if a.use_async:
        return asyncio.run(aserver(ctx, srv, a.count))
    for _ in range(a.count):
        try:
            conn, addr, info = ctx.accept(srv)
        except latch.LatchError as e:
            fail(e)
            continue
        try:
            serve_one(ctx, conn, info, a.pause)
        except latch.LatchError as e:
            fail(e)
    return 0


async def aserver(ctx, srv, count):
    async def greet(conn, info):
        out(peer_line(info))
        reader, writer = await asyncio.open_connection(sock=conn)
        writer.write(("hello %s\n" % info.remote.subject).encode())
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()
        writer.close()

    tasks = []
    for _ in range(count):
        conn, addr, info = await ctx.accept_async(srv)
        tasks.append(asyncio.create_task(greet(conn, info)))
    await asyncio.gather(*tasks)
    return 0


def client(a):
    s = socket.socket()
    s.settimeout(30)
    try:
        if a.use_async:
            info = asyncio.run(aclient(s, a))
        else:
            info = latch.connect(s, (a.host, a.port), peer=a.peer)
            talk(s, info, a.marker)
    except latch.LatchError as e:
        return fail(e)
    return 0


def attach(a):
    """latch.attach, then the program's own sock.connect; latch.query gives the peer."""
    s = socket.socket()
    try:
        pending = latch.attach(s, peer=a.peer)
        out("attached state=%s" % pending.state)
        s.settimeout(30)
        s.connect((a.host, a.port))
        talk(s, latch.query(s), a.marker)
    except latch.LatchError as e:
        return fail(e)
    return 0


def talk(s, info, marker):
    out(peer_line(info))
    f = s.makefile("rwb")
    out("greeting", f.readline().decode().strip())
    f.write((marker + "\n").encode())
    f.flush()
    out("answer", f.readline().decode().strip())


async def aclient(s, a):
    info = await latch.connect_async(s, (a.host, a.port), peer=a.peer)
    out(peer_line(info))
    reader, writer = await asyncio.open_connection(sock=s)
    out("greeting", (await reader.readline()).decode().strip())
    writer.write((a.marker + "\n").encode())
    out("answer", (await reader.readline()).decode().strip())
    writer.close()
    return info


async def astream(a):
    ctx = latch.Context()
    s = socket.socket()
    info = await ctx.connect_async(s, (a.host, a.port), peer=a.peer)
    out(peer_line(info))
    broken = asyncio.Event()

    async def watch():
        async for ev in ctx.events_async():
            out("event id=%d state=%s reason=%s words=%s" % (ev.latch_id, ev.state, ev.reason,
                                                            ev.message))
            if ev.state == latch.State.BROKEN:
                broken.set()

    watcher = asyncio.create_task(watch())
    reader, writer = await asyncio.open_connection(sock=s)
    try:
        for i in range(600):
            writer.write(("%s %d\n" % (a.marker, i)).encode())
            await writer.drain()
            await asyncio.sleep(0.1)
        out("stream ended without error")
    except OSError as e:
        out("stream %s" % type(e).__name__)
    try:
        await asyncio.wait_for(broken.wait(), 10)
    except asyncio.TimeoutError:
        out("no BROKEN event")
    try:  # the socket is gone with its transport: ask by the latch's id
        ctx.query_id(info.id)
        out("query succeeded")
    except latch.LatchError as e:
        out("query error %s errno=%s words=%s" % (type(e).__name__, e.errno, e.explanation))
    watcher.cancel()
    return 0


def watch(a):
    """latch.Context().events(): every latch's events, blocking, for a.seconds."""
    ctx = latch.Context()
    ctx.watch(0)
    out("watching")
    for ev in ctx.events(timeout=a.seconds):
        out("event id=%d state=%s reason=%s" % (ev.latch_id, ev.state, ev.reason))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("server")
    sp.add_argument("port", type=int)
    sp.add_argument("--async", dest="use_async", action="store_true")
    sp.add_argument("--count", type=int, default=1)
    sp.add_argument("--pause", help="wait for this file before latch.query")
    wp = sub.add_parser("watch")
    wp.add_argument("seconds", type=float)
    for name in ("client", "stream", "attach"):
        cp = sub.add_parser(name)
        cp.add_argument("host")
        cp.add_argument("port", type=int)
        cp.add_argument("peer")
        cp.add_argument("marker")
        cp.add_argument("--async", dest="use_async", action="store_true")
    a = p.parse_args()
    if a.cmd == "server":
        return server(a)
    if a.cmd == "client":
        return client(a)
    if a.cmd == "attach":
        return attach(a)
    if a.cmd == "watch":
        return watch(a)
    return asyncio.run(astream(a))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except latch.LatchError as e:
        sys.exit(fail(e))
