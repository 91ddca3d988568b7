# SPDX-License-Identifier: MIT
"""IPsec channels for Python programs: connection latching (RFC 5660) over latchd.

A latched connection is carried by an IPsec SA with a peer your program named,
from its first packet to its last; if the SA goes away or changes peer, the
connection is reset (or held) instead of going on in clear. latch feels like
the socket and ssl modules::

    import socket, latch

    s = socket.socket()
    info = latch.connect(s, ("192.0.2.2", 8080), peer="b.example")  # blocks like s.connect
    print(info.remote.id, info.remote.subject, info.remote.issuer, info.remote.auth)
    print(info.remote.pubkey_sha256.hex(), info.channel_binding.hex(), info.state)

    srv = socket.create_server(("0.0.0.0", 8080))
    latch.listen(srv)                         # any peer latchd's CAs vouch for
    conn, addr, info = latch.accept(srv)
    latch.query(conn)                         # -> latch.Info, answered from the cache

What the peer must be is said with keyword arguments (peer=, peer_pattern=,
ca=, spki_sha256=, btns=, leap_of_faith=, exact=, on_break="reset"|"wait",
allow_unlatched=, encrypt=) or a reusable latch.Token. Failures raise
latch.LatchError (an OSError with the errno and latchd's explanation) or one of
its subclasses: PeerRefused, NoSA, Broken, DaemonUnavailable, NoLatch.

Events (a latch BROKEN, CLOSED, RESTORED, ...): ``for ev in
latch.Context().events(): ...``. asyncio: ``await latch.connect_async(...)``,
``await latch.accept_async(...)`` and ``async for ev in ctx.events_async()``,
all driven by the context's one descriptor (loop.add_reader), no threads.

The module-level functions use one Context per thread (made on first use,
remade after fork); latchd's socket is $LATCH_SOCKET or /run/latch/latchd.sock.
"""

from __future__ import annotations

import asyncio
import enum
import errno as _errno
import ipaddress
import os
import select
import socket
import threading
from dataclasses import dataclass
from typing import Any, AsyncIterator, Dict, Iterable, Iterator, List, Optional, Tuple

from . import _latch
from ._errors import (Broken, DaemonUnavailable, LatchError, NoLatch, NoSA, PeerRefused)

__all__ = [
    "connect", "listen", "accept", "attach", "query", "release", "connect_async", "accept_async",
    "Context", "Token", "Info", "Identity", "SA", "Event", "State", "Reason", "Auth",
    "LatchError", "PeerRefused", "NoSA", "Broken", "DaemonUnavailable", "NoLatch",
]

__version__: str = _latch.LIB_VERSION


class _Named(enum.IntEnum):
    def __str__(self) -> str:
        return self.name


def _enum(name: str, prefix: str, doc: str) -> Any:
    members = {k[len(prefix):]: getattr(_latch, k) for k in dir(_latch) if k.startswith(prefix)}
    members = dict(sorted(members.items(), key=lambda kv: kv[1]))
    e = _Named(name, members, module=__name__)
    e.__doc__ = doc
    return e


State = _enum("State", "STATE_", "A latch's state (RFC 5660 §2.2); NONE: not latched.")
Reason = _enum("Reason", "REASON_", "Why a latch changed state.")
Auth = _Named("Auth", {_latch.auth_name(i): i for i in range(0, 64)
                             if _latch.auth_name(i)}, module=__name__)
Auth.__doc__ = "How the peer was authenticated (draft-ietf-btns-c-api's list)."


@dataclass(frozen=True)
class Identity:
    """Who one end of a latched connection is, as IKE authenticated it.

    id: the IKE identity; subject, issuer: the certificate's DNs; auth: an
    Auth; pubkey_sha256: SHA-256 of the SubjectPublicKeyInfo (the pubKeyID);
    channel_binding: the channel's ipsec-end-point-sha256 binding, equal on both
    ends; audit: one line for logs; line: the stable serialized form
    ("latch-ident/1 ..."); cert_der: the peer's certificate as charon received it in
    IKE (DER, as ssl's getpeercert(binary_form=True)), for checks beyond the names.
    Any of them is None when latchd did not know it (cert_der: a pre-shared key, BTNS,
    a certificate over 8192 bytes)."""

    id: Optional[str] = None
    subject: Optional[str] = None
    issuer: Optional[str] = None
    auth: Optional[Auth] = None
    pubkey_sha256: Optional[bytes] = None
    channel_binding: Optional[bytes] = None
    audit: Optional[str] = None
    line: Optional[str] = None
    cert_der: Optional[bytes] = None

    @classmethod
    def _from(cls, d: Optional[Dict[str, Any]]) -> Optional["Identity"]:
        if d is None:
            return None
        d = dict(d)
        if d.get("auth") is not None:
            try:
                d["auth"] = Auth(d["auth"])
            except ValueError:
                pass
        return cls(**d)

    def __str__(self) -> str:
        return self.id or self.subject or (self.pubkey_sha256 or b"").hex() or "?"


@dataclass(frozen=True)
class SA:
    """The IPsec SA carrying the flow: shared with other flows or the flow's own,
    its mode, charon's algorithm names, the CHILD_SA's id and SPIs."""

    shared: bool
    mode: int
    encr_alg: Optional[str]
    integ_alg: Optional[str]
    child_id: int
    spi_in: int
    spi_out: int


@dataclass(frozen=True)
class Info:
    """A latch as latchd reports it: id, state (State), reason (Reason), latchd's
    message, both identities (remote, local), the flow (proto, local_addr,
    remote_addr) and the SA."""

    id: int
    state: State
    reason: Reason
    message: Optional[str] = None
    remote: Optional[Identity] = None
    local: Optional[Identity] = None
    proto: Optional[int] = None
    local_addr: Optional[Tuple[Any, ...]] = None
    remote_addr: Optional[Tuple[Any, ...]] = None
    sa: Optional[SA] = None

    @property
    def channel_binding(self) -> Optional[bytes]:
        """The channel's ipsec-end-point-sha256 binding (32 bytes), equal on both
        ends; None when the channel has none (a pre-shared key)."""
        return self.remote.channel_binding if self.remote else None

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "Info":
        d = dict(d)
        d["state"] = State(d["state"])
        try:
            d["reason"] = Reason(d["reason"])
        except ValueError:
            pass
        d["remote"] = Identity._from(d.get("remote"))
        d["local"] = Identity._from(d.get("local"))
        if d.get("sa") is not None:
            d["sa"] = SA(**d["sa"])
        return cls(**d)


@dataclass(frozen=True)
class Event:
    """A latch changed state: latch_id (0 with Reason.OVERFLOW: events were
    dropped, query your latches again), state, reason, latchd's message."""

    latch_id: int
    state: State
    reason: Reason
    message: Optional[str] = None

    @classmethod
    def _from(cls, t: Tuple[int, int, int, Optional[str]]) -> "Event":
        try:
            reason = Reason(t[2])
        except ValueError:
            reason = t[2]
        return cls(t[0], State(t[1]), reason, t[3])


_WANT = {None: _latch.WANT_ANY, False: _latch.WANT_NO, True: _latch.WANT_YES}
_ON_BREAK = {"reset": _latch.ON_BREAK_RESET, "wait": _latch.ON_BREAK_WAIT}
_MODE = {None: _latch.MODE_ANY, "transport": _latch.MODE_TRANSPORT, "tunnel": _latch.MODE_TUNNEL}


class Token:
    """What a latch asks for, reusable across calls (a liblatch latch_token).

    peer: the peer's exact IKE identity ("b.example", "C=CH, O=Lab, CN=b");
    peer_pattern: the same with '*' wildcards; ca: DN of the CA that must have
    issued the peer's certificate; spki_sha256: pinned keys (32-byte SHA-256s of
    SubjectPublicKeyInfos; any one will do); btns: an unauthenticated (BTNS)
    peer is acceptable; leap_of_faith: pin the peer's key on first contact;
    exact: an SA of the flow's own; on_break: "reset" (default) or "wait";
    allow_unlatched: accept a connection without a latch (and say so);
    encrypt, integrity: True (default for encrypt), False or None (system
    policy); mode: None, "transport" or "tunnel"; min_bits: (cipher, integrity)
    key length floors; policy_name: a system policy's name.
    Every constraint set must hold. Bad values raise TypeError or ValueError.
    """

    __slots__ = ("_kw", "_c")

    def __init__(self, *, peer: Optional[str] = None, peer_pattern: Optional[str] = None,
                 ca: Optional[str] = None, spki_sha256: Iterable[bytes] = (),
                 btns: bool = False, leap_of_faith: bool = False, exact: bool = False,
                 on_break: str = "reset", allow_unlatched: bool = False,
                 encrypt: Optional[bool] = True, integrity: Optional[bool] = None,
                 mode: Optional[str] = None, min_bits: Tuple[int, int] = (0, 0),
                 policy_name: Optional[str] = None) -> None:
        if isinstance(spki_sha256, (bytes, bytearray)):
            spki_sha256 = [spki_sha256]
        spki = [bytes(k) for k in spki_sha256]
        if on_break not in _ON_BREAK:
            raise ValueError("on_break: 'reset' or 'wait', not %r" % (on_break,))
        if mode not in _MODE:
            raise ValueError("mode: None, 'transport' or 'tunnel', not %r" % (mode,))
        for name, v in (("encrypt", encrypt), ("integrity", integrity)):
            if v not in _WANT:
                raise TypeError("%s: True, False or None, not %r" % (name, v))
        flags = ((_latch.TOKEN_PEER_BTNS if btns else 0)
                 | (_latch.TOKEN_LEAP_OF_FAITH if leap_of_faith else 0)
                 | (_latch.TOKEN_EXACT if exact else 0)
                 | (_latch.TOKEN_ALLOW_UNLATCHED if allow_unlatched else 0))
        self._kw = dict(peer=peer, peer_pattern=peer_pattern, ca=ca, spki_sha256=tuple(spki),
                        btns=btns, leap_of_faith=leap_of_faith, exact=exact, on_break=on_break,
                        allow_unlatched=allow_unlatched, encrypt=encrypt, integrity=integrity,
                        mode=mode, min_bits=tuple(min_bits), policy_name=policy_name)
        self._c = _latch.Token(encrypt=_WANT[encrypt], integrity=_WANT[integrity],
                               mode=_MODE[mode], encr_bits=min_bits[0], integ_bits=min_bits[1],
                               on_break=_ON_BREAK[on_break], flags=flags,
                               policy_name=policy_name, peer_id=peer, peer_id_pattern=peer_pattern,
                               peer_ca=ca, spki=spki)

    def replace(self, **changes: Any) -> "Token":
        """A new Token with some settings changed."""
        return Token(**{**self._kw, **changes})

    def __getattr__(self, name: str) -> Any:
        try:
            return self._kw[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return "latch.Token(%s)" % ", ".join("%s=%r" % kv for kv in self._kw.items()
                                             if kv[1] not in (None, False, (), (0, 0)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Token) and self._kw == other._kw


def _token(token: Optional[Token], kw: Dict[str, Any]) -> Token:
    if token is not None:
        if not isinstance(token, Token):
            raise TypeError("token: a latch.Token, not %s" % type(token).__name__)
        return token.replace(**kw) if kw else token
    return Token(**kw)


def _check_sock(sock: Any) -> socket.socket:
    if not isinstance(sock, socket.socket):
        raise TypeError("a socket.socket is needed, not %s" % type(sock).__name__)
    if sock.fileno() < 0:
        raise OSError(_errno.EBADF, "the socket is closed")
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        raise ValueError("only AF_INET and AF_INET6 sockets can be latched")
    return sock


def _numeric(sock: socket.socket, addr: Any) -> Tuple[Any, ...]:
    """addr with its host resolved to a numeric address of the socket's family."""
    if not isinstance(addr, tuple) or len(addr) < 2:
        raise TypeError("address: a (host, port) tuple, not %r" % (addr,))
    try:
        ipaddress.ip_address(addr[0])
        return addr
    except ValueError:
        pass
    ai = socket.getaddrinfo(addr[0], addr[1], sock.family, sock.type)
    return ai[0][4]


class _Driver:
    """One Context's asyncio side on one loop: reads the context's descriptor when
    something waits (an operation, an event stream) and hands out what came."""

    def __init__(self, ctx: "Context", loop: asyncio.AbstractEventLoop) -> None:
        self.ctx, self.loop = ctx, loop
        self.ops: Dict[Any, asyncio.Future] = {}
        self.queues: List[asyncio.Queue] = []
        self.reading = False

    def _update(self) -> None:
        want = bool(self.ops or self.queues)
        if want and not self.reading:
            self.loop.add_reader(self.ctx.fileno(), self.poke)
        elif not want and self.reading:
            self.loop.remove_reader(self.ctx.fileno())
        self.reading = want

    def wait(self, op: Any) -> asyncio.Future:
        fut = self.loop.create_future()
        self.ops[op] = fut
        self._update()
        self.loop.call_soon(self.poke)  # an answer may already be read
        return fut

    def forget(self, op: Any) -> None:
        if self.ops.pop(op, None) is not None:
            op.cancel()
        self._update()

    def poke(self) -> None:
        try:
            events = self.ctx._process()
        except LatchError as e:
            for fut in self.ops.values():
                if not fut.done():
                    fut.set_exception(e)
            self.ops.clear()
            for q in self.queues:
                q.put_nowait(e)
            self.queues.clear()
            self._update()
            return
        for ev in events:
            for q in self.queues:
                q.put_nowait(ev)
        for op, fut in list(self.ops.items()):
            if fut.done():
                self.forget(op)
                continue
            try:
                res = op.finish()
            except BaseException as e:  # latchd's refusal belongs to the awaiting task
                del self.ops[op]
                fut.set_exception(e)
                continue
            if res is not None:
                del self.ops[op]
                fut.set_result(res)
        self._update()


class Context:
    """A connection to latchd (a liblatch latch_ctx).

    path: latchd's socket (default $LATCH_SOCKET or /run/latch/latchd.sock);
    timeout: seconds blocking calls wait for latchd (None: forever; default 30).
    Raises DaemonUnavailable when latchd is not running. The methods are the
    module's functions; a Context is safe to share between threads (calls on
    one Context run one at a time; the GIL is released while they wait).
    """

    def __init__(self, path: Optional[str] = None, *, timeout: Optional[float] = 30.0) -> None:
        self._c = _latch.Ctx(path, timeout_ms=-1 if timeout is None else int(timeout * 1000))
        self._latched: Dict[int, int] = {}  # fd -> latch id, for Broken after a break
        self._broken: Dict[int, str] = {}  # latch id -> latchd's message
        self._drivers: Dict[asyncio.AbstractEventLoop, _Driver] = {}
        self._kept: List[Event] = []

    def fileno(self) -> int:
        """The descriptor that becomes readable when latchd sends something."""
        return self._c.fileno()

    def close(self) -> None:
        """Close the connection to latchd; latches stay with their sockets."""
        self._c.close()

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _info(self, sock: socket.socket, d: Dict[str, Any]) -> Info:
        info = Info._from(d)
        if info.id:
            self._latched[sock.fileno()] = info.id
        return info

    def connect(self, sock: socket.socket, addr: Tuple[Any, ...],
                token: Optional[Token] = None, **kw: Any) -> Info:
        """Latch sock to addr, then connect it, as sock.connect(addr) would.

        Blocks while latchd brings up IPsec with an acceptable peer (seconds:
        IKE); the first packet leaves under that SA. A socket with a timeout
        waits that long for the TCP connection; a non-blocking one returns with
        the connection in progress. Returns the latch's Info; raises
        PeerRefused, NoSA, DaemonUnavailable, LatchError, or the OSError of
        connect(2)."""
        tok = _token(token, kw)
        sock = _check_sock(sock)
        addr = _numeric(sock, addr)
        rc, d = self._c.connect(sock, sock.family, addr, tok._c, 0)
        if rc == -_errno.EINPROGRESS and sock.gettimeout():
            _, w, _ = select.select([], [sock], [], sock.gettimeout())
            if not w:
                raise TimeoutError(_errno.ETIMEDOUT, "timed out")
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
        return self._info(sock, d)

    def listen(self, sock: socket.socket, token: Optional[Token] = None, **kw: Any) -> Info:
        """Latch a listening socket: only peers the token admits may connect, and
        every connection is latched. Returns the LISTENER latch's Info."""
        tok = _token(token, kw)
        return Info._from(self._c.listen(_check_sock(sock), tok._c))

    def attach(self, sock: socket.socket, token: Optional[Token] = None, **kw: Any) -> Info:
        """For code that will connect the socket itself (a library's own
        sock.connect, asyncio's loop.sock_connect): latchd holds the connection's
        first packet until an SA with a peer the token admits carries it, so
        nothing leaves in clear. The latch is LARVAL until then; latch.query(sock)
        afterwards gives the peer."""
        tok = _token(token, kw)
        sock = _check_sock(sock)
        return self._info(sock, self._c.attach(sock, tok._c))

    def accept(self, sock: socket.socket) -> Tuple[socket.socket, Tuple[Any, ...], Info]:
        """Accept a latched connection, as sock.accept(): (conn, address, info),
        info.remote the peer IKE authenticated. A connection without an
        acceptable SA is reset and raised as NoSA."""
        sock = _check_sock(sock)
        while True:
            if sock.gettimeout() is not None:
                r, _, _ = select.select([sock], [], [], sock.gettimeout())
                if not r:
                    raise TimeoutError(_errno.ETIMEDOUT, "timed out")
            try:
                fd, addr, d = self._c.accept(sock)
            except LatchError as e:
                if e.errno == _errno.EAGAIN and sock.gettimeout() != 0:
                    continue
                raise
            conn = socket.socket(sock.family, sock.type, fileno=fd)
            return conn, addr, self._info(conn, d)

    def query(self, sock: socket.socket) -> Info:
        """The socket's latch, usually answered from liblatch's cache without
        asking latchd. Raises Broken when the latch is broken (the exception's
        info says how), NoLatch when the socket has none."""
        sock = _check_sock(sock)
        return self._unbroken(self._latched.get(sock.fileno(), 0), lambda: self._c.query(sock))

    def _unbroken(self, lid: int, fetch: Any) -> Info:
        try:
            info = Info._from(fetch())
        except NoLatch:
            if lid in self._broken:  # gone since this context saw it break
                raise self._broken_error(lid, None) from None
            raise
        if info.state == State.BROKEN:
            raise self._broken_error(info.id, info)
        return info

    def _broken_error(self, lid: int, info: Optional[Info]) -> Broken:
        words = (info.message if info else None) or self._broken.get(lid) or ""
        exc = Broken(_errno.ECONNABORTED, os.strerror(_errno.ECONNABORTED) + ": " + words)
        exc.explanation = words
        exc.info = info  # type: ignore[attr-defined]
        return exc

    def query_id(self, latch_id: int) -> Info:
        """A latch by its id (any latch the caller may see); raises Broken as query()."""
        return self._unbroken(latch_id, lambda: self._c.query_id(latch_id))

    def release(self, sock: socket.socket) -> None:
        """End the socket's latch; a connected socket is reset (never goes on in clear)."""
        self._c.release(_check_sock(sock))

    def watch(self, latch_id: int = 0) -> None:
        """Also receive events of latch_id (0: of every latch the caller may see)."""
        self._c.watch(latch_id)

    def _process(self) -> List[Event]:
        events = [Event._from(t) for t in self._c.process()]
        for ev in events:
            if ev.state == State.BROKEN:
                self._broken[ev.latch_id] = ev.message or "latch %d broke (%s)" % (
                    ev.latch_id, getattr(ev.reason, "name", ev.reason))
        return events

    def events(self, timeout: Optional[float] = None) -> Iterator[Event]:
        """Iterate the events of this context's latches (and watched ones) as they
        come; stops after timeout seconds without one (None: never)."""
        while True:
            events = self._kept or self._process()
            self._kept = []
            if events:
                yield from events
                continue
            r, _, _ = select.select([self.fileno()], [], [], timeout)
            if not r:
                return

    def _driver(self) -> _Driver:
        loop = asyncio.get_running_loop()
        drv = self._drivers.get(loop)
        if drv is None:
            drv = self._drivers[loop] = _Driver(self, loop)
        return drv

    async def _await_op(self, op: Any) -> Any:
        drv = self._driver()
        fut = drv.wait(op)
        try:
            return await fut
        finally:
            drv.forget(op)

    async def connect_async(self, sock: socket.socket, addr: Tuple[Any, ...],
                            token: Optional[Token] = None, **kw: Any) -> Info:
        """connect() for asyncio: the socket is made non-blocking, latchd's answer
        and the TCP connection are awaited on the loop."""
        loop = asyncio.get_running_loop()
        tok = _token(token, kw)
        sock = _check_sock(sock)
        sock.setblocking(False)
        if not isinstance(addr, tuple) or len(addr) < 2:
            raise TypeError("address: a (host, port) tuple, not %r" % (addr,))
        try:
            ipaddress.ip_address(addr[0])
        except ValueError:
            addr = (await loop.getaddrinfo(addr[0], addr[1], family=sock.family,
                                           type=sock.type))[0][4]
        op = self._c.connect_start(sock, sock.family, addr, tok._c, 0)
        rc, d = await self._await_op(op)
        if rc == -_errno.EINPROGRESS:
            await _wait_fd(loop, sock, write=True)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
        return self._info(sock, d)

    async def accept_async(self, sock: socket.socket
                           ) -> Tuple[socket.socket, Tuple[Any, ...], Info]:
        """accept() for asyncio: (conn, address, info), conn non-blocking."""
        loop = asyncio.get_running_loop()
        sock = _check_sock(sock)
        sock.setblocking(False)
        while True:
            op = self._c.accept_start(sock, _latch.ACCEPT_NONBLOCK)
            if op is not None:
                break
            await _wait_fd(loop, sock, write=False)
        fd, addr, d = await self._await_op(op)
        conn = socket.socket(sock.family, sock.type, fileno=fd)
        conn.setblocking(False)
        return conn, addr, self._info(conn, d)

    async def events_async(self) -> AsyncIterator[Event]:
        """The events, for asyncio: ``async for ev in ctx.events_async(): ...``."""
        drv = self._driver()
        q: asyncio.Queue = asyncio.Queue()
        for ev in self._kept:
            q.put_nowait(ev)
        self._kept = []
        drv.queues.append(q)
        drv._update()
        drv.loop.call_soon(drv.poke)
        try:
            while True:
                ev = await q.get()
                if isinstance(ev, BaseException):
                    raise ev
                yield ev
        finally:
            if q in drv.queues:
                drv.queues.remove(q)
            drv._update()


async def _wait_fd(loop: asyncio.AbstractEventLoop, sock: socket.socket, write: bool) -> None:
    fut = loop.create_future()
    fd = sock.fileno()
    add, remove = (loop.add_writer, loop.remove_writer) if write else \
        (loop.add_reader, loop.remove_reader)
    add(fd, lambda: fut.done() or fut.set_result(None))
    try:
        await fut
    finally:
        remove(fd)


_local = threading.local()


def _reset_after_fork() -> None:
    global _local
    _local = threading.local()  # the parent's contexts are the parent's


os.register_at_fork(after_in_child=_reset_after_fork)


def _default(context: Optional[Context]) -> Context:
    if context is not None:
        if not isinstance(context, Context):
            raise TypeError("context: a latch.Context, not %s" % type(context).__name__)
        return context
    ctx = getattr(_local, "ctx", None)
    if ctx is None:
        ctx = _local.ctx = Context()
    return ctx


def connect(sock: socket.socket, addr: Tuple[Any, ...], token: Optional[Token] = None, *,
            context: Optional[Context] = None, **kw: Any) -> Info:
    """Latch sock to addr and connect it; see Context.connect."""
    tok = _token(token, kw)  # arguments are checked before latchd is asked
    _check_sock(sock)
    return _default(context).connect(sock, addr, tok)


def listen(sock: socket.socket, token: Optional[Token] = None, *,
           context: Optional[Context] = None, **kw: Any) -> Info:
    """Latch a listening socket; see Context.listen."""
    tok = _token(token, kw)
    _check_sock(sock)
    return _default(context).listen(sock, tok)


def attach(sock: socket.socket, token: Optional[Token] = None, *,
           context: Optional[Context] = None, **kw: Any) -> Info:
    """Latch the socket's coming connect(2); see Context.attach."""
    tok = _token(token, kw)
    _check_sock(sock)
    return _default(context).attach(sock, tok)


def accept(sock: socket.socket, *, context: Optional[Context] = None
           ) -> Tuple[socket.socket, Tuple[Any, ...], Info]:
    """Accept a latched connection: (conn, address, info); see Context.accept."""
    _check_sock(sock)
    return _default(context).accept(sock)


def query(sock: socket.socket, *, context: Optional[Context] = None) -> Info:
    """The socket's latch; see Context.query."""
    _check_sock(sock)
    return _default(context).query(sock)


def release(sock: socket.socket, *, context: Optional[Context] = None) -> None:
    """End the socket's latch; see Context.release."""
    _check_sock(sock)
    _default(context).release(sock)


async def connect_async(sock: socket.socket, addr: Tuple[Any, ...],
                        token: Optional[Token] = None, *, context: Optional[Context] = None,
                        **kw: Any) -> Info:
    """connect() for asyncio; see Context.connect_async."""
    tok = _token(token, kw)
    _check_sock(sock)
    return await _default(context).connect_async(sock, addr, tok)


async def accept_async(sock: socket.socket, *, context: Optional[Context] = None
                       ) -> Tuple[socket.socket, Tuple[Any, ...], Info]:
    """accept() for asyncio; see Context.accept_async."""
    _check_sock(sock)
    return await _default(context).accept_async(sock)


from . import draft  # noqa: E402  (the draft's vocabulary, on top of Token)
