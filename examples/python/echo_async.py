#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An asyncio echo server on latched connections: greet each peer by its
certificate's subject, echo its lines, and print latch events (a latch BROKEN
by a takeover, CLOSED, ...) as they come, all on one event loop.

    python3 echo_async.py 8080
"""
import asyncio
import socket
import sys

import latch


async def serve(conn, info):
    reader, writer = await asyncio.open_connection(sock=conn)
    writer.write(b"hello %s\n" % info.remote.subject.encode())
    try:
        while line := await reader.readline():
            writer.write(line)
            await writer.drain()
    except ConnectionError as e:  # the latch broke: the connection was reset
        print("connection from %s ended: %s" % (info.remote, e), flush=True)
    writer.close()


async def events(ctx):
    async for ev in ctx.events_async():
        print("event latch=%d %s (%s)" % (ev.latch_id, ev.state, ev.reason), flush=True)


async def main(port):
    ctx = latch.Context()
    srv = socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True)
    ctx.listen(srv)
    print("listening", flush=True)
    asyncio.create_task(events(ctx))
    while True:
        conn, addr, info = await ctx.accept_async(srv)
        print("peer", info.remote.subject, flush=True)
        asyncio.create_task(serve(conn, info))


asyncio.run(main(int(sys.argv[1])))
