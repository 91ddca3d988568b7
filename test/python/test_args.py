# SPDX-License-Identifier: MIT
"""Python's latch package without latchd: argument checking (clear TypeError,
ValueError or OSError, never a crash), tokens, the draft's vocabulary, latchd
absent or going away as DaemonUnavailable, help(latch)."""

import errno
import os
import pydoc
import socket
import threading

import pytest

import latch
from latch import _latch, draft

NOWHERE = "/nonexistent/latchd.sock"


@pytest.fixture(autouse=True)
def no_latchd(monkeypatch):
    monkeypatch.setenv("LATCH_SOCKET", NOWHERE)
    latch._local.__dict__.clear()


def test_version():
    assert latch.__version__ == _latch.LIB_VERSION
    assert latch.__version__.count(".") == 2


def test_daemon_absent_is_daemon_unavailable():
    with pytest.raises(latch.DaemonUnavailable) as e:
        latch.Context()
    assert isinstance(e.value, latch.LatchError) and isinstance(e.value, OSError)
    assert e.value.errno == errno.ESRCH
    assert NOWHERE in e.value.explanation and NOWHERE in str(e.value)


def test_module_functions_without_latchd():
    with socket.socket() as s, pytest.raises(latch.DaemonUnavailable):
        latch.connect(s, ("192.0.2.2", 8080), peer="b.example")


def test_daemon_that_hangs_up_is_daemon_unavailable(tmp_path):
    path = str(tmp_path / "latchd.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(path)
    srv.listen()

    def hang_up():
        c, _ = srv.accept()
        c.close()

    t = threading.Thread(target=hang_up, daemon=True)
    t.start()
    with pytest.raises(latch.LatchError) as e:
        latch.Context(path)
    t.join(5)
    srv.close()
    assert isinstance(e.value, latch.DaemonUnavailable), e.value


def test_gil_released_while_latchd_is_waited_for(tmp_path):
    """A thread waiting for latchd (here: for HELLO's answer, which never comes
    until the daemon hangs up) lets the others run."""
    path = str(tmp_path / "latchd.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(path)
    srv.listen()
    release = threading.Event()
    outcome = []

    def daemon():
        c, _ = srv.accept()
        release.wait(10)
        c.close()

    def client():
        try:
            latch.Context(path, timeout=None)
        except latch.LatchError as e:
            outcome.append(e)

    threading.Thread(target=daemon, daemon=True).start()
    t = threading.Thread(target=client, daemon=True)
    t.start()
    ran = 0
    for _ in range(20):  # the main thread runs Python while the client waits
        ran += 1
        t.join(0.01)
    assert t.is_alive() and ran == 20 and not outcome
    release.set()
    t.join(5)
    srv.close()
    assert outcome and isinstance(outcome[0], latch.DaemonUnavailable), outcome


@pytest.mark.parametrize("sock", [None, 3, "s", object()])
def test_not_a_socket(sock):
    with pytest.raises(TypeError, match="socket.socket"):
        latch.connect(sock, ("192.0.2.2", 1), peer="b.example")
    with pytest.raises(TypeError, match="socket.socket"):
        latch.query(sock)


def test_closed_socket():
    s = socket.socket()
    s.close()
    with pytest.raises(OSError) as e:
        latch.connect(s, ("192.0.2.2", 1))
    assert e.value.errno == errno.EBADF


def test_unix_socket():
    with socket.socket(socket.AF_UNIX) as s, pytest.raises(ValueError, match="AF_INET"):
        latch.listen(s)


def test_bad_address():
    with socket.socket() as s:
        for addr in ["192.0.2.2", ("192.0.2.2",), None]:
            with pytest.raises(TypeError, match="address"):
                latch._numeric(s, addr)


@pytest.mark.parametrize("kw, exc", [
    ({"on_break": "explode"}, ValueError),
    ({"mode": "sideways"}, ValueError),
    ({"encrypt": 2}, TypeError),
    ({"peer": 42}, TypeError),
    ({"peer": "x" * 2000}, ValueError),
    ({"peer": "b\nexample"}, ValueError),
    ({"spki_sha256": [b"short"]}, ValueError),
    ({"spki_sha256": [bytes([i]) * 32 for i in range(17)]}, ValueError),
    ({"spki_sha256": ["not bytes" * 4]}, TypeError),
    ({"min_bits": (-1, 0)}, ValueError),
    ({"min_bits": (70000, 0)}, ValueError),
    ({"policy_name": "p" * 100}, ValueError),
    ({"bogus": True}, TypeError),
])
def test_token_refusals(kw, exc):
    with pytest.raises(exc):
        latch.Token(**kw)


def test_token_kept_and_reused():
    key = bytes(range(32))
    t = latch.Token(peer="b.example", spki_sha256=key, exact=True, on_break="wait")
    assert t.peer == "b.example" and t.spki_sha256 == (key,) and t.exact
    assert t.on_break == "wait" and t.encrypt is True
    u = t.replace(peer="c.example")
    assert u.peer == "c.example" and t.peer == "b.example" and u.exact
    assert u != t and t == latch.Token(peer="b.example", spki_sha256=[key], exact=True,
                                       on_break="wait")
    assert "b.example" in repr(t)
    with pytest.raises(TypeError, match="latch.Token"):
        latch.connect(socket.socket(), ("192.0.2.2", 1), token="b.example")


def test_c_token_direct_refusals():
    with pytest.raises(ValueError, match="encrypt"):
        _latch.Token(encrypt=7)
    with pytest.raises(ValueError, match="flags"):
        _latch.Token(flags=0x100)
    with pytest.raises(TypeError):
        _latch.Token(spki=5)


def test_ctx_argument_types():
    with pytest.raises(TypeError):
        _latch.Ctx(5)
    with pytest.raises(latch.DaemonUnavailable):
        _latch.Ctx(NOWHERE, timeout_ms=10)


def test_draft_vocabulary():
    it = draft.IToken(certificateDN="C=CH, O=latch-lab, CN=b.example",
                      certificateAuthorityDN="C=CH, O=latch-lab, CN=ca CA")
    t = draft.ptoken(privacyProtected=draft.ENABLE, tunnelMode=draft.DISABLE, iToken=it)
    assert t.peer == it.certificateDN and t.ca == it.certificateAuthorityDN
    assert t.encrypt is True and t.mode == "transport"
    with pytest.raises(ValueError):
        draft.ptoken(privacyProtected=7)
    with pytest.raises(TypeError):
        draft.ptoken(iToken="b.example")


def test_info_from_c_values():
    d = {"id": 7, "state": _latch.STATE_BROKEN, "reason": _latch.REASON_SA_CONFLICT,
         "message": "conflict", "remote": {"id": "b.example", "auth": 7,
                                           "channel_binding": b"\1" * 32},
         "local": None, "sa": {"shared": True, "mode": 1, "encr_alg": "AES_GCM_16-256",
                               "integ_alg": None, "child_id": 1, "spi_in": 2, "spi_out": 3}}
    info = latch.Info._from(d)
    assert info.state == latch.State.BROKEN and str(info.state) == "BROKEN"
    assert info.reason == latch.Reason.SA_CONFLICT
    assert info.remote.auth == latch.Auth.PKIX_TRUSTED and str(info.remote) == "b.example"
    assert info.channel_binding == b"\1" * 32 and info.sa.shared


def test_help_is_useful():
    text = pydoc.render_doc(latch, renderer=pydoc.plaintext)
    for word in ["connect", "accept_async", "PeerRefused", "DaemonUnavailable", "Token",
                 "events_async", "channel_binding"]:
        assert word in text, word


def test_typed():
    here = os.path.dirname(latch.__file__)
    assert os.path.exists(os.path.join(here, "py.typed"))
    assert os.path.exists(os.path.join(here, "_latch.pyi"))
