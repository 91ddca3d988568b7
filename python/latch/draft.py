# SPDX-License-Identifier: MIT
"""The draft API's token model (draft-ietf-btns-c-api) in its own words.

For programs that follow the RFC's vocabulary: a pToken's attributes are
keyword arguments named as in the draft, with its values ANY, DISABLE and
ENABLE, and an iToken names the remote identity. ``ptoken(...)`` gives the
latch.Token it means, for latch.connect/listen::

    from latch import draft
    tok = draft.ptoken(privacyProtected=draft.ENABLE,
                       iToken=draft.IToken(certificateDN="C=CH, O=Lab, CN=b"))
    latch.connect(sock, addr, tok)

Only the attributes the native API can keep are accepted; any other is a
ValueError, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

ANY = 0
DISABLE = 1
ENABLE = 2

_WANT = {ANY: None, DISABLE: False, ENABLE: True}


@dataclass(frozen=True)
class IToken:
    """An identity token: the peer's IKE identity, certificate subject DN,
    issuing CA's DN or pubKeyID (SHA-256 of its SubjectPublicKeyInfo)."""

    identity: Optional[str] = None
    certificateDN: Optional[str] = None
    certificateAuthorityDN: Optional[str] = None
    pubKeyID: Optional[bytes] = None


def ptoken(*, privacyProtected: int = ENABLE, integrityProtected: int = ANY,
           tunnelMode: int = ANY, iToken: Optional[IToken] = None,
           policyName: Optional[str] = None):
    """The latch.Token for a pToken with these attributes."""
    from . import Token

    for name, v in (("privacyProtected", privacyProtected),
                    ("integrityProtected", integrityProtected), ("tunnelMode", tunnelMode)):
        if v not in _WANT:
            raise ValueError("%s: ANY, DISABLE or ENABLE, not %r" % (name, v))
    if iToken is not None and not isinstance(iToken, IToken):
        raise TypeError("iToken: a latch.draft.IToken")
    it = iToken or IToken()
    if it.identity and it.certificateDN:
        raise ValueError("iToken: identity or certificateDN, not both")
    mode = {ANY: None, DISABLE: "transport", ENABLE: "tunnel"}[tunnelMode]
    return Token(encrypt=_WANT[privacyProtected], integrity=_WANT[integrityProtected],
                 mode=mode, policy_name=policyName, peer=it.identity or it.certificateDN,
                 ca=it.certificateAuthorityDN,
                 spki_sha256=[it.pubKeyID] if it.pubKeyID else ())
