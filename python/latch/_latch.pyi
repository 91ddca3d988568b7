# SPDX-License-Identifier: MIT
# Types of the C module latch._latch (use the latch package, not this).
from typing import Any, Dict, List, Optional, Sequence, Tuple

LIB_VERSION: str
STATE_NONE: int
STATE_LISTENER: int
STATE_ESTABLISHED: int
STATE_BROKEN: int
STATE_CLOSED: int
STATE_LARVAL: int
REASON_NONE: int
REASON_SA_CONFLICT: int
REASON_SA_GONE: int
REASON_PEER_DEAD: int
REASON_PEER_CHANGED: int
REASON_POLICY: int
REASON_ADMIN: int
REASON_OWNER: int
REASON_KEY_MANAGER: int
REASON_DAEMON: int
REASON_RESTORED: int
REASON_NEW_CONNECTION: int
REASON_UNLATCHED: int
REASON_OVERFLOW: int
WANT_ANY: int
WANT_NO: int
WANT_YES: int
MODE_ANY: int
MODE_TRANSPORT: int
MODE_TUNNEL: int
ON_BREAK_RESET: int
ON_BREAK_WAIT: int
TOKEN_EXACT: int
TOKEN_ALLOW_UNLATCHED: int
TOKEN_PEER_BTNS: int
TOKEN_LEAP_OF_FAITH: int
ACCEPT_NONBLOCK: int
CONNECT_NO_CONNECT: int

_InfoDict = Dict[str, Any]
_Event = Tuple[int, int, int, Optional[str]]

def auth_name(auth: int) -> Optional[str]: ...

class Token:
    def __init__(self, *, encrypt: int = ..., integrity: int = ..., mode: int = ...,
                 encr_bits: int = ..., integ_bits: int = ..., on_break: int = ...,
                 flags: int = ..., policy_name: Optional[str] = ..., peer_id: Optional[str] = ...,
                 peer_id_pattern: Optional[str] = ..., peer_ca: Optional[str] = ...,
                 spki: Optional[Sequence[bytes]] = ...) -> None: ...

class Op:
    def finish(self) -> Optional[Tuple[Any, ...]]: ...
    def cancel(self) -> None: ...
    def fileno(self) -> int: ...

class Ctx:
    def __init__(self, path: Optional[str] = ..., *, timeout_ms: int = ...) -> None: ...
    def close(self) -> None: ...
    def fileno(self) -> int: ...
    def last_error(self) -> Optional[str]: ...
    def pending(self) -> int: ...
    def process(self) -> List[_Event]: ...
    def watch(self, latch_id: int = ...) -> None: ...
    def connect(self, sock: Any, family: int, addr: Tuple[Any, ...], token: Optional[Token],
                flags: int) -> Tuple[int, _InfoDict]: ...
    def listen(self, sock: Any, token: Optional[Token]) -> _InfoDict: ...
    def attach(self, sock: Any, token: Optional[Token]) -> _InfoDict: ...
    def accept(self, sock: Any, flags: int = ...) -> Tuple[int, Tuple[Any, ...], _InfoDict]: ...
    def query(self, sock: Any) -> _InfoDict: ...
    def query_id(self, latch_id: int) -> _InfoDict: ...
    def release(self, sock: Any) -> None: ...
    def connect_start(self, sock: Any, family: int, addr: Tuple[Any, ...],
                      token: Optional[Token], flags: int) -> Op: ...
    def accept_start(self, sock: Any, flags: int = ...) -> Optional[Op]: ...
