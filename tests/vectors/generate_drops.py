"""Write ``tests/vectors/drops.json``, the known answers for sealed drops. Run by hand, never by
the tests:

    PYTHONPATH=src .venv/bin/python tests/vectors/generate_drops.py          # rewrite the file
    PYTHONPATH=src .venv/bin/python tests/vectors/generate_drops.py --check  # exit 1 if stale

What it holds:

- ``age_spec_example``: the ``mlkem768x25519`` identity and recipient printed in c2sp.org/age
  (copied from the spec, not computed here), so the key derivation is checked against it;
- ``drop``: a drop sealed by Mailslot to a fixed identity, with the SHA-256 of each tar member
  it must open to (HPKE's randomness cannot be injected, so the file is kept while it still opens);
- ``manifests``: a chain of three manifest versions and the fingerprint of the key that
  signed them (ML-DSA signing is randomised, so the chain is kept while it still verifies).

A change to the drop layout, the manifest's canonical form, its labels or its hash makes the
kept values fail, which is the point: published drops and manifests must stay readable.
"""

from __future__ import annotations

import base64
import hashlib  # noqa: TID251 - the SHA-256 of vector members, independent of the code under test
import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailslot import drops
from mailslot.crypto import DeterministicRandom
from mailslot.crypto.signing import SigningKey
from mailslot.drops import manifest as manifests

OUT = Path(__file__).with_name("drops.json")
SPEC_IDENTITY = "AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR"
SPEC_RECIPIENT_FILE = Path(__file__).with_name("age-spec-example-recipient.txt")
NOTE = "Meet at the usual place.\n"
FILES = {"report.txt": b"The troops left on Tuesday.\n", "photo.jpg": bytes(range(256)) * 257}


def _drop(identity: drops.DropKeyPair, kept: dict[str, Any] | None) -> dict[str, Any]:
    members = {"note.txt": NOTE.encode(), **{f"files/{k}": v for k, v in FILES.items()}}
    expected = {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}
    if kept and kept.get("members") == expected:
        try:
            reader = drops.open_file([identity.identity], io.BytesIO(base64.b64decode(kept["age"])))
            got = {
                e.name if e.is_note else f"files/{e.name}": e.stream.read()
                for e in drops.read_drop(reader)
            }
            if got == members:
                return kept
        except drops.DropError:
            pass
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, data in FILES.items():
            path = Path(tmp) / name
            path.write_bytes(data)
            paths.append(path)
        sink = io.BytesIO()
        with drops.DropWriter([identity.recipient], sink) as writer:
            drops.write_drop(writer, paths, NOTE)
    return {"age": base64.b64encode(sink.getvalue()).decode(), "members": expected}


def _manifests(kept: dict[str, Any] | None) -> dict[str, Any]:
    rng = DeterministicRandom(b"drops/manifests")
    key = SigningKey.generate(rng)
    fingerprint = manifests.format_fingerprint(key.public_key)
    if kept and kept.get("fingerprint") == fingerprint:
        try:
            drops.verify_chain(drops.load_chain(json.dumps(kept["chain"]).encode()), fingerprint)
            return kept
        except drops.DropError:
            pass
    channel_keys = [drops.DropKeyPair.generate(rng) for _ in range(3)]
    recipients = [
        drops.RecipientEntry("Alice", drops.recipient_fingerprint(b"MSLK\x01" + rng(1216))),
        drops.RecipientEntry("Bo", drops.recipient_fingerprint(b"MSLK\x01" + rng(1216))),
    ]
    chain: list[drops.Manifest] = []
    for version, keys in enumerate([channel_keys[:1], channel_keys[:2], channel_keys[1:]], 1):
        channels = [drops.ChannelEntry(f"desk-{i}", str(k.recipient)) for i, k in enumerate(keys)]
        chain.append(
            drops.make_manifest(
                key,
                previous=chain[-1] if chain else None,
                organisation="Example News",
                channels=channels,
                recipients=recipients[:version],
                now=datetime(2026, 7, version, 13, 5, tzinfo=UTC),
            )
        )
    return {"fingerprint": fingerprint, "chain": json.loads(drops.chain_json(chain))}


def build() -> dict[str, Any]:
    kept = json.loads(OUT.read_text()) if OUT.exists() else {}
    identity = drops.DropKeyPair.generate(DeterministicRandom(b"drops/identity"))
    return {
        "age_spec_example": {
            "identity": SPEC_IDENTITY,
            "recipient": SPEC_RECIPIENT_FILE.read_text().strip(),
        },
        "drop": {"identity": identity.identity_string(), **_drop(identity, kept.get("drop"))},
        "manifests": _manifests(kept.get("manifests")),
    }


def main() -> int:
    text = json.dumps(build(), indent=1, sort_keys=True) + "\n"
    if "--check" in sys.argv:
        return 0 if OUT.exists() and OUT.read_text() == text else 1
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
