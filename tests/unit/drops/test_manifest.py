"""Signed key manifests: the signature (both halves), the chain rules, the fingerprint, strict
parsing, fork and rollback detection, and the kept chain in ``tests/vectors/drops.json``."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailslot import drops
from mailslot.crypto.errors import BadSignature
from mailslot.crypto.signing import SigningKey
from mailslot.drops import manifest as manifests

pytestmark = pytest.mark.no_database

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "drops.json").read_text())
KEY = SigningKey.generate()
NOW = datetime(2026, 7, 1, 23, 59, tzinfo=UTC)
DESK = drops.DropKeyPair.generate()
OTHER_DESK = drops.DropKeyPair.generate()


def version(
    previous: drops.Manifest | None = None,
    *,
    key: SigningKey = KEY,
    desk: drops.DropKeyPair = DESK,
    organisation: str = "Example News",
) -> drops.Manifest:
    return drops.make_manifest(
        key,
        previous=previous,
        organisation=organisation,
        channels=[drops.ChannelEntry("desk", str(desk.recipient))],
        recipients=[
            drops.RecipientEntry("Alice", drops.recipient_fingerprint(b"MSLK\x01" + b"a" * 1216))
        ],
        now=NOW,
    )


def chain(n: int = 3) -> list[drops.Manifest]:
    out = [version()]
    for i in range(1, n):
        out.append(version(out[-1], desk=[DESK, OTHER_DESK][i % 2]))
    return out


def reparse(manifest: drops.Manifest, **changes: object) -> drops.Manifest:
    obj = manifest.to_json()
    obj.update(changes)
    return drops.Manifest.from_json(json.loads(json.dumps(obj)))


def test_a_chain_verifies_and_round_trips_through_its_file() -> None:
    versions = chain()
    latest = drops.verify_chain(versions, versions[0].fingerprint)
    assert latest.version == 3
    assert latest.created == "2026-07-01"  # the day only
    assert [m.previous for m in versions] == [None, versions[0].digest(), versions[1].digest()]
    loaded = drops.load_chain(drops.chain_json(versions))
    assert loaded == versions
    assert drops.verify_chain(loaded).digest() == latest.digest()


def test_the_fingerprint_names_both_public_keys_and_is_typed_loosely() -> None:
    fpr = version().fingerprint
    assert len(fpr.split(" ")) == 10
    assert drops.normalise_fingerprint(fpr.upper().replace(" ", "-")) == fpr
    public = KEY.public_key
    other_ed = SigningKey.generate().public_key
    mixed = dataclasses.replace(public, ed25519=other_ed.ed25519)
    assert mixed.fingerprint() != public.fingerprint()
    mixed = dataclasses.replace(public, ml_dsa_65=other_ed.ml_dsa_65)
    assert mixed.fingerprint() != public.fingerprint()


def test_another_signing_key_is_refused_by_fingerprint() -> None:
    versions = [version(key=SigningKey.generate())]
    with pytest.raises(drops.SignatureInvalid):
        drops.verify_chain(versions, version().fingerprint)
    drops.verify_chain(versions, versions[0].fingerprint)  # positive control


def test_a_changed_field_breaks_the_signature() -> None:
    versions = chain(1)
    changed = reparse(versions[0], organisation="Evil News")
    with pytest.raises(drops.SignatureInvalid):
        drops.verify_chain([changed])
    swapped = reparse(
        versions[0], channels=[{"name": "desk", "drop_recipient": str(OTHER_DESK.recipient)}]
    )
    with pytest.raises(drops.SignatureInvalid):
        drops.verify_chain([swapped])


@pytest.mark.parametrize("half", ["ed25519", "ml_dsa_65"])
def test_each_half_of_the_signature_is_checked(half: str) -> None:
    good = version()
    other = version(key=SigningKey.generate())  # a valid signature, by another key
    signature = dataclasses.replace(good.signature, **{half: getattr(other.signature, half)})
    with pytest.raises(BadSignature):
        good.signing_key.verify(
            signature, manifests.canonical(good.unsigned_json()), manifests.SIGNING_CONTEXT
        )
    with pytest.raises(drops.SignatureInvalid):
        dataclasses.replace(good, signature=signature).verify()
    good.verify()  # positive control


def test_the_signing_context_is_bound() -> None:
    good = version()
    message = manifests.canonical(good.unsigned_json())
    good.signing_key.verify(good.signature, message, manifests.SIGNING_CONTEXT)
    with pytest.raises(BadSignature):
        good.signing_key.verify(good.signature, message, b"mailslot/v1/something-else")


def test_a_version_signed_by_another_key_breaks_the_chain() -> None:
    versions = chain(2)
    intruder = SigningKey.generate()
    forged = drops.make_manifest(
        intruder,
        previous=None,
        organisation="Example News",
        channels=[],
        recipients=[],
        now=NOW,
    )
    forged = dataclasses.replace(forged, version=3, previous=versions[-1].digest())
    with pytest.raises(drops.SignatureInvalid):
        drops.verify_chain([*versions, forged])
    with pytest.raises(drops.SignatureInvalid):
        drops.make_manifest(
            intruder, previous=versions[-1], organisation="x", channels=[], recipients=[], now=NOW
        )


def test_gaps_reorders_and_broken_links_are_refused() -> None:
    versions = chain(3)
    with pytest.raises(drops.ChainInvalid):
        drops.verify_chain([versions[0], versions[2]])  # a gap
    with pytest.raises(drops.ChainInvalid):
        drops.verify_chain(versions[1:])  # does not start at 1
    with pytest.raises(drops.ChainInvalid):
        drops.verify_chain([versions[1], versions[0], versions[2]])
    with pytest.raises(drops.ChainInvalid):
        drops.verify_chain([])
    # A validly signed version 2 that links to another version 1 (a fork of history).
    other_first = version(desk=OTHER_DESK)
    assert other_first.digest() != versions[0].digest()
    branch = version(other_first)
    with pytest.raises(drops.ChainInvalid):
        drops.verify_chain([versions[0], branch])


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: o.update(extra=1),
        lambda o: o.pop("created"),
        lambda o: o.update(version=0),
        lambda o: o.update(version="1"),
        lambda o: o.update(version=True),
        lambda o: o.update(previous="ab"),
        lambda o: o.update(created="2026-7-1"),
        lambda o: o.update(created="2026-07-01T00:00"),
        lambda o: o.update(format="mailslot-key-manifest/v2"),
        lambda o: o.update(organisation=""),
        lambda o: o.update(organisation="a\nb"),
        lambda o: o.update(channels=[{"name": "d", "drop_recipient": "age1pq1qqqq"}]),
        lambda o: o.update(channels=[{"name": "d"}]),
        lambda o: o.update(recipients=[{"name": "A", "fingerprint": "zz"}]),
        lambda o: o["recipients"][0].update(
            fingerprint=o["recipients"][0]["fingerprint"][1:] + "0"
        ),
        lambda o: o["recipients"][0].update(fingerprint=o["recipients"][0]["fingerprint"].upper()),
        lambda o: o["signing_key"].update(ed25519="AAAA"),
        lambda o: o["signatures"].update(ml_dsa_65="not base64!"),
        lambda o: o["signatures"].pop("ed25519"),
    ],
)
def test_strict_parsing(mutate: object) -> None:
    obj = version().to_json()
    drops.Manifest.from_json(json.loads(json.dumps(obj)))  # positive control
    assert callable(mutate)
    mutate(obj)
    with pytest.raises(drops.ManifestInvalid):
        drops.Manifest.from_json(obj)


@pytest.mark.parametrize(
    "text",
    [
        b"[]",
        b'{"format": "mailslot-key-manifests/v1"}',
        b'{"format": "mailslot-key-manifests/v1", "versions": [], "versions": []}',
        b'{"format": "mailslot-key-manifests/v1", "versions": [1.5]}',
        b"\xff",
    ],
)
def test_the_chain_file_is_read_strictly(text: bytes) -> None:
    with pytest.raises(drops.ManifestInvalid):
        drops.load_chain(text)


def test_forks_and_rollbacks_are_noticed(tmp_path: Path) -> None:
    seen = drops.SeenManifests(tmp_path / "seen")
    versions = chain(3)
    seen.check(versions)
    report = seen.record(versions)
    assert report.latest_before is None
    assert not report.rolled_back
    assert (tmp_path / "seen").stat().st_mode & 0o777 == 0o700
    stored = next((tmp_path / "seen").iterdir())
    assert stored.stat().st_mode & 0o777 == 0o600
    assert "Example News" not in stored.read_text()  # no trace of whom the source wrote to
    # The same chain again, and a longer one that extends it: no fork.
    seen.check(versions)
    longer = [*versions, version(versions[-1])]
    seen.check(longer)
    assert seen.record(longer).latest_before == 3
    # A validly signed, different version 3 on top of the same version 2: a fork.
    fork = [*versions[:2], version(versions[1], desk=drops.DropKeyPair.generate())]
    drops.verify_chain(fork)  # the forked chain is valid on its own
    with pytest.raises(drops.ManifestForked):
        seen.check(fork)
    # An older chain (versions 1-2 only) verifies, but is behind what was seen.
    report = seen.record(versions[:2])
    assert report.rolled_back
    # The record keeps what it saw first.
    with pytest.raises(drops.ManifestForked):
        seen.check(fork)


def test_the_kept_chain_still_verifies() -> None:
    vector = VECTORS["manifests"]
    versions = drops.load_chain(json.dumps(vector["chain"]).encode())
    assert [m.version for m in versions] == [1, 2, 3]
    assert drops.verify_chain(versions, vector["fingerprint"]).organisation == "Example News"


def test_the_spec_alone_recomputes_the_kept_chain() -> None:
    """docs/spec/sealed-drops.md section 4, with hashlib and pyca directly (not the code under
    test): canonical JSON, the digest links, both signatures, and the fingerprint."""
    import base64
    import hashlib  # noqa: TID251 - an independent implementation of the spec's hashes

    from cryptography.hazmat.primitives.asymmetric import (  # noqa: TID251 - independent check
        ed25519,
        mldsa,
    )

    vector = VECTORS["manifests"]
    versions = vector["chain"]["versions"]

    def canonical(obj: object) -> bytes:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    ctx = b"mailslot/v1/key-manifest"
    previous = None
    for m in versions:
        assert m["previous"] == previous
        unsigned = {k: v for k, v in m.items() if k != "signatures"}
        ed_public = base64.b64decode(m["signing_key"]["ed25519"])
        ml_public = base64.b64decode(m["signing_key"]["ml_dsa_65"])
        ed25519.Ed25519PublicKey.from_public_bytes(ed_public).verify(
            base64.b64decode(m["signatures"]["ed25519"]),
            bytes([len(ctx)]) + ctx + canonical(unsigned),
        )
        mldsa.MLDSA65PublicKey.from_public_bytes(ml_public).verify(
            base64.b64decode(m["signatures"]["ml_dsa_65"]), canonical(unsigned), ctx
        )
        previous = hashlib.sha256(b"mailslot/v1/key-manifest\x00" + canonical(m)).hexdigest()
        fingerprint = hashlib.sha256(
            b"mailslot/v1/signing-key-fingerprint\x00" + ed_public + ml_public
        ).hexdigest()[:40]
        assert " ".join(fingerprint[i : i + 4] for i in range(0, 40, 4)) == vector["fingerprint"]


def test_the_signing_key_derivation_follows_the_spec() -> None:
    from cryptography.hazmat.primitives import hashes  # noqa: TID251 - independent check
    from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa  # noqa: TID251
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: TID251

    seed = bytes(range(32))

    def hkdf(info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(seed)

    public = SigningKey(seed).public_key
    ed = ed25519.Ed25519PrivateKey.from_private_bytes(hkdf(b"mailslot/v1/signing/ed25519"))
    ml = mldsa.MLDSA65PrivateKey.from_seed_bytes(hkdf(b"mailslot/v1/signing/ml-dsa-65"))
    assert public.ed25519 == ed.public_key().public_bytes_raw()
    assert public.ml_dsa_65 == ml.public_key().public_bytes_raw()
