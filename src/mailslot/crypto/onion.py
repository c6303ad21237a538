"""Keys for Tor onion-service client authorisation (the staff interface's lock)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from mailslot.crypto import _hazmat


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


@dataclass(frozen=True, slots=True, repr=False)
class OnionClientKey:
    """An x25519 key pair in Tor's encoding: unpadded base32, 52 characters each.

    ``auth_line`` goes in the service's ``authorized_clients/<name>.auth``; ``private_key``
    is what Tor Browser asks for when it opens the service.
    """

    private_key: str
    public_key: str

    @property
    def auth_line(self) -> str:
        return f"descriptor:x25519:{self.public_key}"


def new_onion_client_key() -> OnionClientKey:
    private, public = _hazmat.x25519_key_pair()
    return OnionClientKey(private_key=_b32(private), public_key=_b32(public))
