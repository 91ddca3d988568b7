# SPDX-License-Identifier: MIT
"""latch's exceptions: OSErrors carrying the errno and latchd's explanation."""

from __future__ import annotations

import errno as _errno
import os as _os


class LatchError(OSError):
    """A latch call failed. ``errno`` is the error number, ``strerror`` says it
    with latchd's own words after a colon, ``explanation`` is latchd's words alone
    ("" when latchd gave none)."""

    explanation: str = ""


class PeerRefused(LatchError):
    """The peer is not acceptable to the token, or the caller may not do this
    (EACCES, EPERM)."""


class NoSA(LatchError):
    """No IPsec SA could be made for the flow (ECONNREFUSED)."""


class Broken(LatchError):
    """The latch broke (ECONNABORTED): its SA went away or changed peer."""


class DaemonUnavailable(LatchError):
    """latchd is not running or went away (ESRCH, ECONNRESET): make a new Context."""


class NoLatch(LatchError):
    """The socket or id has no latch (ENOENT)."""


for _c in (LatchError, PeerRefused, NoSA, Broken, DaemonUnavailable, NoLatch):
    _c.__module__ = "latch"  # as help(), tracebacks and pickle should name them

_CLASSES = {
    _errno.EACCES: PeerRefused,
    _errno.EPERM: PeerRefused,
    _errno.ECONNREFUSED: NoSA,
    _errno.ECONNABORTED: Broken,
    _errno.ESRCH: DaemonUnavailable,
    _errno.ECONNRESET: DaemonUnavailable,
    _errno.ENOENT: NoLatch,
}


def error(err: int, words: str) -> LatchError:
    """The exception for errno ``err`` with latchd's ``words`` (used by the C module)."""
    text = _os.strerror(err) + (": " + words if words else "")
    exc = _CLASSES.get(err, LatchError)(err, text)
    exc.explanation = words
    return exc
