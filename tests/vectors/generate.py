"""Write the known-answer vectors in ``tests/vectors/*.json``. Run by hand, never by the tests:

    PYTHONPATH=src .venv/bin/python tests/vectors/generate.py          # rewrite the files
    PYTHONPATH=src .venv/bin/python tests/vectors/generate.py --check  # exit 1 if they differ

Every input comes from a fixed label through :class:`DeterministicRandom`, so a second run writes
the same bytes. HPKE is the exception: its encapsulation randomness cannot be injected, so a wrap
already in ``wraps.json`` (or inside the bundle in ``bundle.json``) is kept as long as its inputs
are unchanged and it still opens.

Values are hex. Byte strings longer than 4 KiB are stored as a *recipe* (see ``build``) plus their
SHA-256, so that the files stay small and a reader can still rebuild them from the spec alone.
Reject vectors that need non-canonical but correctly authenticated chunks are built here with the
payload key, through ``mailslot.crypto._hazmat``.
"""

from __future__ import annotations

import io
import json
import struct
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from mailslot import backup as backups
from mailslot import drops
from mailslot.crypto import (
    DEFAULT_KDF,
    TEST_KDF,
    DecryptionError,
    DeterministicRandom,
    KdfParams,
    KeyPair,
    WrapPurpose,
    _hazmat,
    backup_key,
    backup_sealer,
    case_key_context,
    check_public_key,
    derive_password_keys,
    derive_source_keys,
    digest,
    key_fingerprint,
    new_backup_header,
    normalize_codename,
    open_item,
    open_keyfile,
    open_meta,
    open_secret,
    open_session,
    padded_length,
    recovery_kek,
    seal_item,
    seal_keyfile,
    seal_meta,
    seal_secret,
    seal_session,
    sealed_size,
    session_keys,
    stream,
    wrap_key,
)
from mailslot.db.migrate import HEAD
from mailslot.offline.bundle import (
    BundleWriter,
    CaseRecord,
    CaseWrap,
    DropKeyRecord,
    ItemRecord,
    PastWrap,
    case_frame,
    encode_frame,
    read_all,
)

HERE = Path(__file__).resolve().parent
HEX_LIMIT = 4096
CAP = stream.CHUNK_DATA_CAPACITY
Spec = dict[str, Any]

RNG_NOTE = (
    "rng_seed feeds DeterministicRandom: its n-th call (n = 1, 2, ...) for L bytes returns "
    "HKDF-SHA256(ikm=rng_seed, salt=absent, info='mailslot/test-vectors/' || decimal(n), L)."
)
RECIPE_NOTE = (
    "Byte strings are recipes: {'hex': h} | {'zeros': n} | {'repeat': {'hex': h, 'count': n}} | "
    "{'pattern': {'start': s, 'length': n}} (byte i is (s + i) mod 251) | "
    "{'concat': [recipe, ...]} | {'take': {'length': n, 'of': recipe}} (first n bytes) | "
    "{'aes256gcm': {'key': h, 'nonce': h, 'aad': h, 'plaintext': recipe}} (ciphertext || tag). "
    "Recipes longer than 4096 bytes also give their sha256 and length."
)


# -- byte recipes -------------------------------------------------------------------------------


def hexs(data: bytes) -> Spec:
    return {"hex": data.hex()}


def zeros(n: int) -> Spec:
    return {"zeros": n}


def repeat(unit: bytes, count: int) -> Spec:
    return {"repeat": {"hex": unit.hex(), "count": count}}


def pattern(start: int, length: int) -> Spec:
    return {"pattern": {"start": start, "length": length}}


def concat(*parts: Spec) -> Spec:
    flat: list[Spec] = []
    for part in parts:
        for piece in part.get("concat", [part]):
            if "hex" in piece and flat and "hex" in flat[-1]:
                flat[-1] = {"hex": flat[-1]["hex"] + piece["hex"]}
            elif piece not in ({"hex": ""}, {"zeros": 0}):
                flat.append(piece)
    if not flat:
        return {"hex": ""}
    return flat[0] if len(flat) == 1 else {"concat": flat}


def take(length: int, of: Spec) -> Spec:
    return {"take": {"length": length, "of": of}}


def aes256gcm(key: bytes, nonce: bytes, aad: bytes, plaintext: Spec) -> Spec:
    return {
        "aes256gcm": {
            "key": key.hex(),
            "nonce": nonce.hex(),
            "aad": aad.hex(),
            "plaintext": plaintext,
        }
    }


def build(spec: Spec) -> bytes:
    (kind, value), *rest = spec.items()
    assert not rest, spec
    if kind == "hex":
        return bytes.fromhex(value)
    if kind == "zeros":
        return bytes(value)
    if kind == "repeat":
        return bytes.fromhex(value["hex"]) * int(value["count"])
    if kind == "pattern":
        cycle = bytes(range(251))
        start, length = int(value["start"]) % 251, int(value["length"])
        rotated = cycle[start:] + cycle[:start]
        return (rotated * (length // 251 + 1))[:length]
    if kind == "concat":
        return b"".join(build(part) for part in value)
    if kind == "take":
        return build(value["of"])[: value["length"]]
    if kind == "aes256gcm":
        return _hazmat.aead_seal(
            bytes.fromhex(value["key"]),
            bytes.fromhex(value["nonce"]),
            build(value["plaintext"]),
            bytes.fromhex(value["aad"]),
        )
    raise ValueError(kind)


def stored(spec: Spec) -> Spec:
    """A recipe as stored: plain hex when short, else the recipe with its hash and length."""
    data = build(spec)
    if len(data) <= HEX_LIMIT:
        return {"data": hexs(data), "length": len(data)}
    return {"data": spec, "length": len(data), "sha256": _hazmat.sha256(data).hex()}


# -- inputs ---------------------------------------------------------------------------------------


def det_bytes(label: str, n: int) -> bytes:
    return DeterministicRandom(b"mailslot test vector input: " + label.encode())(n)


def rng_seed(label: str) -> bytes:
    return det_bytes("rng/" + label, 32)


def u32(n: int) -> bytes:
    return struct.pack(">I", n)


def nonce(counter: int, final: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


# -- keys -----------------------------------------------------------------------------------------

KEY_SEEDS = {
    "zero-seed": bytes(32),
    "counting-seed": bytes(range(32)),
    "recipient-alice": det_bytes("key/alice", 32),
    "recipient-bob": det_bytes("key/bob", 32),
}


def key_components(seed: bytes) -> tuple[bytes, bytes]:
    return (
        _hazmat.hkdf(seed, info=b"mailslot/v1/kem/mlkem768", length=64),
        _hazmat.hkdf(seed, info=b"mailslot/v1/kem/x25519", length=32),
    )


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    out = bytearray(data)
    out[index] ^= mask
    return bytes(out)


def keys_file() -> dict[str, Any]:
    vectors = []
    for name, seed in KEY_SEEDS.items():
        mlkem_seed, x25519_private = key_components(seed)
        vectors.append(
            {
                "name": name,
                "seed": seed.hex(),
                "mlkem768_seed": mlkem_seed.hex(),
                "x25519_private": x25519_private.hex(),
                "public_key": KeyPair.from_seed(seed).public_key.hex(),
            }
        )
    good = KeyPair.from_seed(KEY_SEEDS["recipient-alice"]).public_key
    mlkem_end = 5 + _hazmat.MLKEM768_PUBLIC_SIZE
    rejects = [
        ("empty", "KEY-LENGTH", b"", "no bytes at all"),
        ("one-byte-short", "KEY-LENGTH", good[:-1], "last byte of the X25519 key cut off"),
        ("one-byte-long", "KEY-LENGTH", good + b"\x00", "a byte appended"),
        ("raw-without-marker", "KEY-LENGTH", good[5:], "the 1216 raw bytes without MSLK 01"),
        ("wrong-magic", "KEY-MAGIC", b"MSLX" + good[4:], "magic MSLX"),
        ("version-2", "KEY-MAGIC", good[:4] + b"\x02" + good[5:], "unknown version 2"),
        ("version-0", "KEY-MAGIC", good[:4] + b"\x00" + good[5:], "unknown version 0"),
        (
            "mlkem-coefficients-out-of-range",
            "KEY-ENCODING",
            good[:5] + b"\xff" * _hazmat.MLKEM768_PUBLIC_SIZE + good[mlkem_end:],
            "every 12-bit ML-KEM coefficient is 4095, above q = 3329",
        ),
    ]
    return {
        "description": "Hybrid key pairs (MSLK): 32-byte seed -> component seeds -> public key.",
        "vectors": vectors,
        "reject": [
            {"name": n, "rule": r, "note": note, "public_key": k.hex()} for n, r, k, note in rejects
        ],
    }


# -- HPKE wraps -----------------------------------------------------------------------------------


def info_string(purpose: bytes, context_id: bytes) -> bytes:
    return b"mailslot/v1/wrap/" + purpose + b"/" + struct.pack(">H", len(context_id)) + context_id


def source_seed() -> bytes:
    vector = SOURCE_VECTORS[0]
    keys = derive_source_keys(vector[0], vector[1], TEST_KDF)
    return keys.key_pair.seed


@dataclass(frozen=True)
class WrapCase:
    name: str
    recipient: str
    seed: bytes
    purpose: bytes
    context_id: bytes
    secret: bytes


def wrap_cases() -> list[WrapCase]:
    return [
        WrapCase(
            "case-key-to-alice",
            "recipient-alice",
            KEY_SEEDS["recipient-alice"],
            WrapPurpose.CASE_KEY,
            det_bytes("case-id/1", 16),
            det_bytes("case-seed/1", 32),
        ),
        WrapCase(
            "item-key-to-case",
            "case key of case-key-to-alice",
            det_bytes("case-seed/1", 32),
            WrapPurpose.ITEM_KEY,
            det_bytes("item-id/reply", 16),
            det_bytes("data-key/reply", 32),
        ),
        WrapCase(
            "item-key-to-source",
            "source key of the first source_keys vector",
            source_seed(),
            WrapPurpose.ITEM_KEY,
            det_bytes("item-id/reply", 16),
            det_bytes("data-key/reply", 32),
        ),
    ]


def existing_wraps(section: str = "vectors") -> dict[str, dict[str, Any]]:
    path = HERE / "wraps.json"
    if not path.exists():
        return {}
    return {v["name"]: v for v in json.loads(path.read_text())[section]}


def odd_size_wrap(name: str, seed: bytes, info: bytes, secret: bytes) -> bytes:
    """An authentic HPKE wrap of a secret that is not 32 bytes (kept across runs, like wraps)."""
    private = _hazmat.KemPrivateKey(*key_components(seed))
    previous = existing_wraps("reject").get(name)
    if previous is not None:
        wrapped = bytes.fromhex(previous["wrapped"])
        try:
            if private.hpke_open(wrapped[5:], info) == secret:
                return wrapped
        except DecryptionError:
            pass
    return b"MSLW\x01" + _hazmat.hpke_seal(private.public_bytes, secret, info)


def make_wrap(case: WrapCase, old: dict[str, dict[str, Any]]) -> bytes:
    pair = KeyPair.from_seed(case.seed)
    previous = old.get(case.name)
    if (
        previous is not None
        and previous["recipient_seed"] == case.seed.hex()
        and previous["purpose"] == case.purpose.decode()
        and previous["context_id"] == case.context_id.hex()
        and previous["secret"] == case.secret.hex()
    ):
        wrapped = bytes.fromhex(previous["wrapped"])
        try:
            if pair.unwrap(wrapped, case.purpose, case.context_id) == case.secret:
                return wrapped
        except DecryptionError:
            pass
    return wrap_key(pair.public_key, case.secret, case.purpose, case.context_id)


def wraps_file() -> dict[str, Any]:
    old = existing_wraps()
    vectors = []
    made: dict[str, bytes] = {}
    for case in wrap_cases():
        wrapped = make_wrap(case, old)
        made[case.name] = wrapped
        vectors.append(
            {
                "name": case.name,
                "recipient": case.recipient,
                "recipient_seed": case.seed.hex(),
                "purpose": case.purpose.decode(),
                "context_id": case.context_id.hex(),
                "info": info_string(case.purpose, case.context_id).hex(),
                "secret": case.secret.hex(),
                "wrapped": wrapped.hex(),
            }
        )
    base = wrap_cases()[0]
    good = made[base.name]
    bob = KEY_SEEDS["recipient-bob"]
    other_case = det_bytes("case-id/2", 16)
    enc_end = 5 + _hazmat.HPKE_ENC_SIZE

    def reject(name: str, rule: str, note: str, wrapped: bytes, **changes: bytes) -> dict[str, Any]:
        return {
            "name": name,
            "rule": rule,
            "note": note,
            "recipient_seed": changes.get("seed", base.seed).hex(),
            "purpose": changes.get("purpose", base.purpose).decode(),
            "context_id": changes.get("context_id", base.context_id).hex(),
            "wrapped": wrapped.hex(),
        }

    rejects = [
        reject("empty", "WRAP-LENGTH", "no bytes", b""),
        reject("truncated", "WRAP-LENGTH", "last tag byte missing", good[:-1]),
        reject("extended", "WRAP-LENGTH", "one byte appended", good + b"\x00"),
        reject("wrong-magic", "WRAP-MAGIC", "magic MSLX", b"MSLX" + good[4:]),
        reject("version-2", "WRAP-MAGIC", "unknown version 2", good[:4] + b"\x02" + good[5:]),
        reject("wrong-recipient", "WRAP-AUTH", "opened with bob's key", good, seed=bob),
        reject(
            "wrong-purpose",
            "WRAP-AUTH",
            "a case-key wrap opened as an item-key wrap",
            good,
            purpose=WrapPurpose.ITEM_KEY,
        ),
        reject(
            "wrong-context",
            "WRAP-AUTH",
            "opened for another case id",
            good,
            context_id=other_case,
        ),
        reject(
            "context-prefix",
            "WRAP-AUTH",
            "context id shortened by one byte (the length prefix keeps ids apart)",
            good,
            context_id=base.context_id[:-1],
        ),
        reject("flipped-mlkem-ciphertext", "WRAP-AUTH", "bit 0 of enc byte 0", flip(good, 5)),
        reject(
            "flipped-x25519-share",
            "WRAP-AUTH",
            "bit 0 of the last enc byte (the X25519 ephemeral key)",
            flip(good, enc_end - 1),
        ),
        reject(
            "flipped-ciphertext", "WRAP-AUTH", "bit 0 of the first AEAD byte", flip(good, enc_end)
        ),
        reject("flipped-tag", "WRAP-AUTH", "bit 7 of the last tag byte", flip(good, -1, 0x80)),
    ]
    base_info = info_string(base.purpose, base.context_id)
    for size in (31, 33):
        name = f"authentic-{size}-byte-secret"
        wrapped = odd_size_wrap(name, base.seed, base_info, det_bytes(name, size))
        note = f"a correct HPKE wrap, for the right recipient and info, of a {size}-byte secret"
        rejects.append(reject(name, "WRAP-LENGTH", note, wrapped))
    return {
        "description": (
            "HPKE key wraps (MSLW). HPKE encapsulation randomness cannot be injected, so each "
            "vector is a wrap made once; check that it opens with recipient_seed, purpose and "
            "context_id to secret, and that info is the HPKE info string."
        ),
        "vectors": vectors,
        "reject": rejects,
    }


# -- secret wraps ---------------------------------------------------------------------------------


def secret_wraps_file() -> dict[str, Any]:
    user_id = det_bytes("user-id/alice", 16)
    password_kek = derive_password_keys(
        PASSWORD_VECTORS[0][0], PASSWORD_VECTORS[0][1], TEST_KDF
    ).kek
    recovery = recovery_kek(det_bytes("recovery-secret/alice", 32), user_id)
    seed = KEY_SEEDS["recipient-alice"]
    cases = [
        ("seed-under-password-kek", password_kek, seed, b"recipient-seed/password/" + user_id),
        ("seed-under-recovery-kek", recovery, seed, b"recipient-seed/recovery/" + user_id),
        ("empty-context", det_bytes("kek/plain", 32), det_bytes("secret/plain", 32), b""),
    ]
    vectors = []
    for name, kek, secret, context in cases:
        seed_bytes = rng_seed("secret/" + name)
        wrapped = seal_secret(kek, secret, context, DeterministicRandom(seed_bytes))
        vectors.append(
            {
                "name": name,
                "kek": kek.hex(),
                "secret": secret.hex(),
                "context": context.hex(),
                "rng_seed": seed_bytes.hex(),
                "wrapped": wrapped.hex(),
            }
        )
    _, kek, _, context = cases[0]
    odd_nonce = det_bytes("secret-wrap/odd-nonce", 12)
    good = bytes.fromhex(vectors[0]["wrapped"])

    def reject(name: str, rule: str, note: str, wrapped: bytes, **changes: bytes) -> dict[str, Any]:
        return {
            "name": name,
            "rule": rule,
            "note": note,
            "kek": changes.get("kek", kek).hex(),
            "context": changes.get("context", context).hex(),
            "wrapped": wrapped.hex(),
        }

    return {
        "description": "Secret wraps (MSLP): a 32-byte secret under a 32-byte KEK. " + RNG_NOTE,
        "vectors": vectors,
        "reject": [
            reject("empty", "SECRET-LENGTH", "no bytes", b""),
            reject("truncated", "SECRET-LENGTH", "last tag byte missing", good[:-1]),
            reject("extended", "SECRET-LENGTH", "one byte appended", good + b"\x00"),
            reject("wrong-magic", "SECRET-MAGIC", "magic MSLX", b"MSLX" + good[4:]),
            reject("version-2", "SECRET-MAGIC", "version 2", good[:4] + b"\x02" + good[5:]),
            reject("wrong-kek", "SECRET-AUTH", "the recovery KEK", good, kek=cases[1][1]),
            reject(
                "wrong-context",
                "SECRET-AUTH",
                "password wrap opened as the recovery wrap",
                good,
                context=cases[1][3],
            ),
            reject("flipped-nonce", "SECRET-AUTH", "bit 0 of the nonce", flip(good, 5)),
            reject("flipped-ciphertext", "SECRET-AUTH", "bit 0 of byte 17", flip(good, 17)),
            reject("flipped-tag", "SECRET-AUTH", "bit 7 of the last byte", flip(good, -1, 0x80)),
            *[
                reject(
                    f"authentic-{size}-byte-secret",
                    "SECRET-LENGTH",
                    f"a correctly sealed {size}-byte secret under the right KEK and context",
                    build(
                        concat(
                            hexs(b"MSLP\x01" + odd_nonce),
                            aes256gcm(kek, odd_nonce, b"MSLP\x01" + context, zeros(size)),
                        )
                    ),
                )
                for size in (31, 33)
            ],
        ],
    }


# -- items ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemCase:
    name: str
    plaintext: Spec
    note: str

    @cached_property
    def item_id(self) -> bytes:
        return det_bytes("item-id/" + self.name, 16)

    @cached_property
    def data_key(self) -> bytes:
        return det_bytes("data-key/" + self.name, 32)

    @cached_property
    def rng_seed(self) -> bytes:
        return rng_seed("item/" + self.name)

    @cached_property
    def data(self) -> bytes:
        return build(self.plaintext)

    @cached_property
    def sealed(self) -> bytes:
        return seal_item(self.item_id, self.data_key, self.data, DeterministicRandom(self.rng_seed))

    @property
    def header(self) -> bytes:
        return self.sealed[: stream.HEADER_SIZE]

    @property
    def payload_key(self) -> bytes:
        salt = self.header[-stream.SALT_SIZE :]
        return _hazmat.hkdf(self.data_key, salt=salt, info=b"mailslot/v1/item/payload")

    def data_spec(self, start: int, end: int) -> Spec:
        if "pattern" in self.plaintext:
            return pattern(self.plaintext["pattern"]["start"] + start, end - start)
        return hexs(self.data[start:end])

    def chunk(self, counter: int, final: bool, body: Spec) -> Spec:
        return aes256gcm(self.payload_key, nonce(counter, final), self.header, body)

    def canonical_bodies(self) -> list[tuple[Spec, bool]]:
        length = len(self.data)
        padded = padded_length(length)
        count = -(-padded // CAP)
        bodies = []
        for i in range(count):
            content = min(CAP, padded - i * CAP)
            start = min(i * CAP, length)
            end = min(start + content, length)
            body = concat(
                hexs(u32(end - start)), self.data_spec(start, end), zeros(content - (end - start))
            )
            bodies.append((body, i == count - 1))
        return bodies

    def chunks(self) -> list[Spec]:
        return [
            self.chunk(i, final, body) for i, (body, final) in enumerate(self.canonical_bodies())
        ]

    def vector(self) -> dict[str, Any]:
        rebuilt = build(concat(hexs(self.header), *self.chunks()))
        assert rebuilt == self.sealed, f"{self.name}: recipe disagrees with ItemSealer"
        out: dict[str, Any] = {
            "name": self.name,
            "note": self.note,
            "item_id": self.item_id.hex(),
            "data_key": self.data_key.hex(),
            "rng_seed": self.rng_seed.hex(),
            "plaintext": stored(self.plaintext),
            "salt": self.header[-stream.SALT_SIZE :].hex(),
            "header": self.header.hex(),
            "payload_key": self.payload_key.hex(),
            "padded_length": padded_length(len(self.data)),
            "chunk_count": len(self.chunks()),
            "sealed_size": sealed_size(len(self.data)),
            "ciphertext_sha256": _hazmat.sha256(self.sealed).hex(),
            "ciphertext_length": len(self.sealed),
        }
        if len(self.sealed) <= HEX_LIMIT:
            out["ciphertext"] = self.sealed.hex()
        return out


ITEMS = [
    ItemCase("empty", hexs(b""), "no data: one final chunk of pure padding (1024 bytes)"),
    ItemCase("one-byte", hexs(b"\x2a"), "the smallest non-empty item"),
    ItemCase(
        "short-text",
        hexs("Meet me at the usual place. 정오에 만나요.".encode()),
        "a short UTF-8 message",
    ),
    ItemCase("floor", pattern(0, 1024), "exactly the 1 KiB padding floor: no padding at all"),
    ItemCase("floor-plus-one", pattern(0, 1025), "first Padmé step above the floor: 1088"),
    ItemCase(
        "chunk-capacity",
        pattern(0, CAP),
        "exactly one chunk of data; Padmé rounds to 65536, so a final chunk of 4 padding bytes "
        "follows the full first chunk",
    ),
    ItemCase(
        "chunk-capacity-plus-one",
        pattern(0, CAP + 1),
        "one data byte spills into the final chunk",
    ),
    ItemCase("several-chunks", pattern(0, 300_000), "five chunks, the last holding padding"),
]


def item_rejects() -> list[dict[str, Any]]:
    by_name = {case.name: case for case in ITEMS}
    text, two, many = by_name["short-text"], by_name["chunk-capacity"], by_name["several-chunks"]
    out: list[dict[str, Any]] = []

    def add(
        name: str,
        rule: str,
        note: str,
        base: ItemCase,
        spec: Spec,
        *,
        item_id: bytes | None = None,
        data_key: bytes | None = None,
    ) -> None:
        out.append(
            {
                "name": name,
                "rule": rule,
                "note": note,
                "item_id": (item_id or base.item_id).hex(),
                "data_key": (data_key or base.data_key).hex(),
                "ciphertext": stored(spec),
            }
        )

    t_sealed = text.sealed
    header = hexs(text.header)
    t_len = len(text.data)
    pad = padded_length(t_len)

    def single(body: Spec, base: ItemCase = text) -> Spec:
        return concat(hexs(base.header), base.chunk(0, True, body))

    add("empty-input", "ITEM-HEADER", "zero bytes", text, hexs(b""))
    add(
        "partial-header",
        "ITEM-HEADER",
        "the first 36 of 37 header bytes",
        text,
        hexs(t_sealed[:36]),
    )
    add(
        "wrong-magic",
        "ITEM-MAGIC",
        "magic MSLX, otherwise intact",
        text,
        hexs(b"MSLX" + t_sealed[4:]),
    )
    add(
        "version-2",
        "ITEM-MAGIC",
        "version byte 2",
        text,
        hexs(t_sealed[:4] + b"\x02" + t_sealed[5:]),
    )
    add(
        "version-0",
        "ITEM-MAGIC",
        "version byte 0",
        text,
        hexs(t_sealed[:4] + b"\x00" + t_sealed[5:]),
    )
    add(
        "other-item-id",
        "ITEM-ID",
        "an intact item opened under another item's id (a blob moved between rows)",
        text,
        hexs(t_sealed),
        item_id=det_bytes("item-id/other", 16),
    )
    add(
        "wrong-data-key",
        "ITEM-AUTH",
        "an intact item opened with another data key",
        text,
        hexs(t_sealed),
        data_key=det_bytes("data-key/other", 32),
    )
    add("flipped-salt", "ITEM-AUTH", "bit 0 of the last salt byte", text, hexs(flip(t_sealed, 36)))
    add(
        "flipped-chunk",
        "ITEM-AUTH",
        "bit 0 of the first chunk byte",
        text,
        hexs(flip(t_sealed, 37)),
    )
    add("flipped-tag", "ITEM-AUTH", "bit 7 of the last byte", text, hexs(flip(t_sealed, -1, 0x80)))
    add(
        "final-flag-clear",
        "ITEM-TRUNCATED",
        "the only chunk sealed with final flag 0, as if more were to follow",
        text,
        concat(header, text.chunk(0, False, text.canonical_bodies()[0][0])),
    )
    add(
        "cut-mid-chunk",
        "ITEM-TRUNCATED",
        "the last byte of the only chunk removed",
        text,
        hexs(t_sealed[:-1]),
    )
    add(
        "cut-at-chunk-boundary",
        "ITEM-TRUNCATED",
        "the final chunk of a five-chunk item dropped; four non-final chunks remain",
        many,
        concat(hexs(many.header), *many.chunks()[:-1]),
    )
    add(
        "cut-after-first-full-chunk",
        "ITEM-TRUNCATED",
        "a two-chunk item without its final chunk: the full first chunk is read as final and "
        "fails because it was sealed with final flag 0",
        two,
        concat(hexs(two.header), two.chunks()[0]),
    )
    add(
        "cut-inside-later-chunk",
        "ITEM-TRUNCATED",
        "a five-chunk item cut 1000 bytes into its third chunk",
        many,
        take(
            stream.HEADER_SIZE + 2 * stream.CHUNK_CIPHERTEXT_SIZE + 1000,
            concat(hexs(many.header), *many.chunks()),
        ),
    )
    add("header-only", "ITEM-FINAL-SHORT", "a header and no chunk", text, header)
    add(
        "final-chunk-19-bytes",
        "ITEM-FINAL-SHORT",
        "the final chunk cut to 19 bytes, one less than length field plus tag",
        text,
        hexs(t_sealed[: stream.HEADER_SIZE + 19]),
    )
    add(
        "authentic-empty-final-chunk",
        "ITEM-FINAL-SHORT",
        "a correctly sealed final chunk with an empty plaintext (16 bytes: the tag alone)",
        text,
        concat(header, text.chunk(0, True, hexs(b""))),
    )
    add(
        "authentic-3-byte-final-chunk",
        "ITEM-FINAL-SHORT",
        "a correctly sealed final chunk with 3 bytes of plaintext, too short for a length field",
        text,
        concat(header, text.chunk(0, True, hexs(b"\x00\x00\x00"))),
    )
    m = many.chunks()
    add(
        "swapped-chunks",
        "ITEM-ORDER",
        "chunks 0 and 1 exchanged",
        many,
        concat(hexs(many.header), m[1], m[0], *m[2:]),
    )
    add(
        "final-chunk-moved",
        "ITEM-ORDER",
        "the final chunk exchanged with the one before it",
        many,
        concat(hexs(many.header), *m[:3], m[4], m[3]),
    )
    add(
        "duplicated-chunk",
        "ITEM-ORDER",
        "chunk 1 written twice",
        many,
        concat(hexs(many.header), m[0], m[1], *m[1:]),
    )
    add(
        "dropped-chunk",
        "ITEM-ORDER",
        "chunk 1 left out",
        many,
        concat(hexs(many.header), m[0], *m[2:]),
    )
    add(
        "trailing-byte",
        "ITEM-TRAILING",
        "one zero byte after the final chunk",
        text,
        hexs(t_sealed + b"\x00"),
    )
    add(
        "chunk-after-final",
        "ITEM-TRAILING",
        "a second, correctly sealed final chunk (counter 1) after the final chunk",
        text,
        concat(hexs(t_sealed), text.chunk(1, True, concat(hexs(u32(0)), zeros(16)))),
    )
    add(
        "trailing-after-multi-chunk",
        "ITEM-TRAILING",
        "16 bytes after the final chunk of a five-chunk item",
        many,
        concat(hexs(many.header), *m, zeros(16)),
    )
    add(
        "short-non-final-chunk",
        "ITEM-CHUNK-SIZE",
        "a non-final chunk of 100 bytes of plaintext, then a final chunk",
        text,
        concat(
            header,
            text.chunk(0, False, concat(hexs(u32(t_len)), hexs(text.data), zeros(96 - t_len))),
            text.chunk(1, True, concat(hexs(u32(0)), zeros(pad - 96))),
        ),
    )
    add(
        "oversized-final-chunk",
        "ITEM-CHUNK-SIZE",
        "a single final chunk of 65537 plaintext bytes, one more than a chunk holds",
        text,
        single(concat(hexs(u32(t_len)), hexs(text.data), zeros(CAP + 1 - t_len))),
    )
    add(
        "data-len-over-capacity",
        "ITEM-DATA-LEN",
        "length field 1025 in a chunk with 1024 bytes of content",
        text,
        single(concat(hexs(u32(pad + 1)), hexs(text.data), zeros(pad - t_len))),
    )
    add(
        "data-len-max",
        "ITEM-DATA-LEN",
        "length field 0xffffffff",
        text,
        single(concat(hexs(u32(0xFFFFFFFF)), hexs(text.data), zeros(pad - t_len))),
    )
    add(
        "non-zero-padding",
        "ITEM-PADDING",
        "the last padding byte is 0x01",
        text,
        single(concat(hexs(u32(t_len)), hexs(text.data), zeros(pad - t_len - 1), hexs(b"\x01"))),
    )
    add(
        "non-zero-padding-in-padding-chunk",
        "ITEM-PADDING",
        "the 4-byte final padding chunk of a two-chunk item is 00 00 00 01",
        two,
        concat(
            hexs(two.header),
            two.chunks()[0],
            two.chunk(1, True, hexs(u32(0) + b"\x00\x00\x00\x01")),
        ),
    )
    add(
        "data-after-padding",
        "ITEM-DATA-AFTER-PADDING",
        "a full non-final chunk holding 100 data bytes and padding, then a final chunk holding "
        "data again",
        text,
        concat(
            header,
            text.chunk(0, False, concat(hexs(u32(100)), pattern(0, 100), zeros(CAP - 100))),
            text.chunk(1, True, concat(hexs(u32(1)), hexs(b"x"), zeros(3))),
        ),
    )
    plus = by_name["chunk-capacity-plus-one"]
    add(
        "padding-then-data",
        "ITEM-DATA-AFTER-PADDING",
        "the 65533 bytes of chunk-capacity-plus-one laid out with one padding byte at the end of "
        "the first chunk and two data bytes in the final one; every other rule holds",
        plus,
        concat(
            hexs(plus.header),
            plus.chunk(0, False, concat(hexs(u32(CAP - 1)), pattern(0, CAP - 1), zeros(1))),
            plus.chunk(1, True, concat(hexs(u32(2)), pattern(CAP - 1, 2), zeros(2))),
        ),
    )
    add(
        "length-field-past-chunk",
        "ITEM-DATA-LEN",
        "a full first chunk whose length field says 65533, then a final chunk of 4 padding "
        "bytes; the claimed total 65533 pads to exactly the 65536 bytes of content present",
        plus,
        concat(
            hexs(plus.header),
            plus.chunk(0, False, concat(hexs(u32(CAP + 1)), pattern(0, CAP))),
            plus.chunk(1, True, concat(hexs(u32(0)), zeros(4))),
        ),
    )
    add(
        "unpadded",
        "ITEM-PADDED-LENGTH",
        "the data with no padding at all",
        text,
        single(concat(hexs(u32(t_len)), hexs(text.data))),
    )
    add(
        "under-padded",
        "ITEM-PADDED-LENGTH",
        "content of 1023 bytes where padded_length is 1024",
        text,
        single(concat(hexs(u32(t_len)), hexs(text.data), zeros(pad - 1 - t_len))),
    )
    add(
        "over-padded",
        "ITEM-PADDED-LENGTH",
        "content of 2048 bytes where padded_length is 1024",
        text,
        single(concat(hexs(u32(t_len)), hexs(text.data), zeros(2 * pad - t_len))),
    )
    add(
        "empty-final-chunk",
        "ITEM-PADDED-LENGTH",
        "an empty item as a single 20-byte final chunk (length field 0, no padding)",
        by_name["empty"],
        single(hexs(u32(0)), by_name["empty"]),
    )
    add(
        "extra-padding-chunk",
        "ITEM-PADDED-LENGTH",
        "a two-chunk item followed by one more chunk of padding, the last one final",
        two,
        concat(
            hexs(two.header),
            two.chunks()[0],
            two.chunk(1, False, concat(hexs(u32(0)), zeros(CAP))),
            two.chunk(2, True, concat(hexs(u32(0)), zeros(4))),
        ),
    )
    return out


def items_file() -> dict[str, Any]:
    return {
        "description": "Item streams (MSLI). " + RNG_NOTE + " " + RECIPE_NOTE,
        "vectors": [case.vector() for case in ITEMS],
        "reject": item_rejects(),
    }


# -- sealed metadata ------------------------------------------------------------------------------


def meta_key(data_key: bytes, item_id: bytes) -> bytes:
    return _hazmat.hkdf(data_key, salt=item_id, info=b"mailslot/v1/item/meta")


def sized_meta(total: int) -> dict[str, Any]:
    """A metadata object whose canonical JSON encoding is exactly ``total`` bytes."""
    meta: dict[str, Any] = {"name": "", "type": "text/plain"}
    base = len(json.dumps(meta, separators=(",", ":")).encode())
    meta["name"] = "n" * (total - base)
    return meta


META_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("empty-object", {}, "the smallest metadata: one block"),
    (
        "file",
        {
            "name": "회의록 2024-03.pdf",
            "type": "application/pdf",
            "size": 183_204,
            "received": "2024-03-18",
        },
        "a typical attachment, non-ASCII name kept as UTF-8",
    ),
    ("one-block-exactly", sized_meta(252), "4 + 252 bytes: exactly one 256-byte block"),
    ("two-blocks", sized_meta(253), "4 + 253 bytes: spills into a second block"),
]


def meta_file() -> dict[str, Any]:
    vectors = []
    for name, meta, note in META_CASES:
        item_id = det_bytes("meta-item-id/" + name, 16)
        data_key = det_bytes("meta-data-key/" + name, 32)
        seed = rng_seed("meta/" + name)
        sealed = seal_meta(item_id, data_key, meta, DeterministicRandom(seed))
        encoded = json.dumps(
            meta, ensure_ascii=False, sort_keys=True, separators=(",", ":")
        ).encode()
        vectors.append(
            {
                "name": name,
                "note": note,
                "item_id": item_id.hex(),
                "data_key": data_key.hex(),
                "rng_seed": seed.hex(),
                "meta": meta,
                "json": encoded.hex(),
                "meta_key": meta_key(data_key, item_id).hex(),
                "body_length": len(sealed) - 5 - 12 - 16,
                "sealed": sealed.hex(),
            }
        )

    item_id = det_bytes("meta-item-id/file", 16)
    data_key = det_bytes("meta-data-key/file", 32)
    key = meta_key(data_key, item_id)
    magic = b"MSLM\x01"
    aad = magic + item_id
    good = bytes.fromhex(str(vectors[1]["sealed"]))
    fixed_nonce = det_bytes("meta-reject-nonce", 12)

    def sealed_body(body: Spec) -> Spec:
        return concat(hexs(magic + fixed_nonce), aes256gcm(key, fixed_nonce, aad, body))

    def block(text: bytes, size: int | None = None, total: int = 256) -> Spec:
        length = len(text) if size is None else size
        return concat(hexs(u32(length) + text), zeros(total - 4 - len(text)))

    out: list[dict[str, Any]] = []

    def add(name: str, rule: str, note: str, spec: Spec, **changes: bytes) -> None:
        out.append(
            {
                "name": name,
                "rule": rule,
                "note": note,
                "item_id": changes.get("item_id", item_id).hex(),
                "data_key": changes.get("data_key", data_key).hex(),
                "sealed": stored(spec),
            }
        )

    add("wrong-magic", "META-MAGIC", "magic MSLX", hexs(b"MSLX" + good[4:]))
    add("version-2", "META-MAGIC", "version 2", hexs(good[:4] + b"\x02" + good[5:]))
    add("empty", "META-MAGIC", "zero bytes", hexs(b""))
    add(
        "too-long",
        "META-LENGTH",
        "an authentic body of 64 KiB + 256 bytes, rejected before decryption",
        sealed_body(block(b"{}", total=stream.MAX_META_SIZE + 256)),
    )
    add("wrong-data-key", "META-AUTH", "another data key", hexs(good), data_key=det_bytes("x", 32))
    add(
        "other-item-id",
        "META-AUTH",
        "intact metadata opened under another item id",
        hexs(good),
        item_id=det_bytes("meta-item-id/other", 16),
    )
    add("flipped-byte", "META-AUTH", "bit 0 of the first ciphertext byte", hexs(flip(good, 17)))
    add("truncated", "META-AUTH", "last byte missing", hexs(good[:-1]))
    add("no-ciphertext", "META-AUTH", "magic and nonce only", hexs(good[:17]))
    add("body-not-block", "META-BLOCK", "a 300-byte body", sealed_body(block(b"{}", total=300)))
    add("body-empty", "META-BLOCK", "an empty body", sealed_body(hexs(b"")))
    add(
        "body-3-bytes",
        "META-BLOCK",
        "a 3-byte body, too short for the length",
        sealed_body(hexs(b"\x00\x00\x00")),
    )
    add(
        "length-over-body",
        "META-LENGTH-FIELD",
        "length field 253 in a 256-byte block",
        sealed_body(block(b"{}", size=253)),
    )
    add(
        "non-zero-padding",
        "META-PADDING",
        "a byte after the JSON text is 0x20",
        sealed_body(block(b"{} ", size=2)),
    )
    add(
        "nul-inside-length",
        "META-JSON",
        "JSON followed by a NUL inside the declared length",
        sealed_body(block(b"{}\x00")),
    )
    add(
        "invalid-utf8",
        "META-JSON",
        "a string holding byte 0xff",
        sealed_body(block(b'{"a":"\xff"}')),
    )
    add("not-json", "META-JSON", "text that is not JSON", sealed_body(block(b"{name: x}")))
    add(
        "trailing-text", "META-JSON", "an object followed by more text", sealed_body(block(b"{}{}"))
    )
    add(
        "too-deeply-nested",
        "META-JSON",
        "30000 nested arrays, beyond the reader's parsing limit (a reader that can parse them "
        "still rejects the array under META-OBJECT)",
        sealed_body(
            concat(
                hexs(u32(60_000)),
                repeat(b"[", 30_000),
                repeat(b"]", 30_000),
                zeros(-(4 + 60_000) % 256),
            )
        ),
    )
    add("array", "META-OBJECT", "a JSON array", sealed_body(block(b'["name"]')))
    add("string", "META-OBJECT", "a JSON string", sealed_body(block(b'"name"')))
    add("null", "META-OBJECT", "JSON null", sealed_body(block(b"null")))
    add("number", "META-OBJECT", "a JSON number", sealed_body(block(b"1")))
    return {
        "description": "Sealed item metadata (MSLM). " + RNG_NOTE + " " + RECIPE_NOTE,
        "vectors": vectors,
        "reject": out,
    }


# -- derivations ----------------------------------------------------------------------------------

PASSWORD_VECTORS: list[tuple[str, bytes, str]] = [
    ("correct horse battery staple", det_bytes("password-salt/1", 16), "ASCII password"),
    ("caf\u00e9 \u00fcber", det_bytes("password-salt/2", 16), "precomposed (NFC) input"),
    (
        "cafe\u0301 u\u0308ber",
        det_bytes("password-salt/2", 16),
        "decomposed input: same keys as NFC",
    ),
    ("비밀번호 12345", det_bytes("password-salt/3", 16), "Korean password"),
]

SOURCE_VECTORS: list[tuple[str, bytes, str]] = [
    (
        "acorn bakery cinder dusk ember fable garnet",
        det_bytes("instance-salt/1", 16),
        "seven lower-case words",
    ),
    (
        "  Acorn\tBAKERY  cinder\u00a0dusk ember fable GARNET ",
        det_bytes("instance-salt/1", 16),
        "case, tabs, no-break space and extra spaces normalise to the first vector",
    ),
    (
        "\uff41corn bakery cinder dusk ember fable garnet",
        det_bytes("instance-salt/1", 16),
        "fullwidth a (NFKC) normalises to the first vector",
    ),
    (
        "acorn bakery cinder dusk ember fable garnet",
        det_bytes("instance-salt/2", 16),
        "same codename, another instance: unrelated keys",
    ),
]


def params_fields(params: KdfParams) -> dict[str, Any]:
    return {"params": params.encode()}


def derive_file() -> dict[str, Any]:
    passwords = []
    for password, salt, note in PASSWORD_VECTORS:
        root = _hazmat.argon2id(
            unicodedata.normalize("NFC", password).encode(),
            salt=salt,
            memory_kib=TEST_KDF.memory_kib,
            iterations=TEST_KDF.iterations,
            lanes=TEST_KDF.lanes,
            length=32,
        )
        keys = derive_password_keys(password, salt, TEST_KDF)
        passwords.append(
            {
                "note": note,
                "password": password,
                "salt": salt.hex(),
                **params_fields(TEST_KDF),
                "argon2id": root.hex(),
                "verifier": keys.verifier.hex(),
                "kek": keys.kek.hex(),
            }
        )
    sources = []
    for codename, salt, note in SOURCE_VECTORS:
        normal = normalize_codename(codename)
        root = _hazmat.argon2id(
            normal.encode(),
            salt=salt,
            memory_kib=TEST_KDF.memory_kib,
            iterations=TEST_KDF.iterations,
            lanes=TEST_KDF.lanes,
            length=32,
        )
        source = derive_source_keys(codename, salt, TEST_KDF)
        sources.append(
            {
                "note": note,
                "codename": codename,
                "normalized": normal,
                "instance_salt": salt.hex(),
                **params_fields(TEST_KDF),
                "argon2id": root.hex(),
                "lookup": source.lookup.hex(),
                "seed": source.key_pair.seed.hex(),
                "public_key_sha256": _hazmat.sha256(source.key_pair.public_key).hex(),
            }
        )
    recoveries = []
    for i in (1, 2):
        secret = det_bytes(f"recovery-secret/{i}", 32)
        user_id = det_bytes(f"user-id/{i}", 16)
        recoveries.append(
            {
                "recovery_secret": secret.hex(),
                "user_id": user_id.hex(),
                "kek": recovery_kek(secret, user_id).hex(),
            }
        )
    digests = [
        {"label": label.decode(), "data": data.hex(), "digest": digest(label, data).hex()}
        for label, data in [
            (b"invite", det_bytes("invite-token", 32)),
            (b"reset", b""),
        ]
    ]
    codenames = [
        {"input": raw, "normalized": normalize_codename(raw)}
        for raw in [
            "Acorn Bakery",
            "  acorn\t\tbakery\n",
            "ACORN\u3000BAKERY",
            "\uff21\uff23\uff2f\uff32\uff2e bakery",
            "\u00c5ngstr\u00f6m",
            "A\u030angstro\u0308m",
            "fi\ufb01",
            "J\u030cAM",
            "사과 바나나",
            "",
        ]
    ]
    valid = [
        TEST_KDF,
        KdfParams(64 * 1024, 3, 1),
        KdfParams(8, 1, 1),
        KdfParams(64, 1, 8),
        KdfParams(1024 * 1024, 16, 8),
    ]
    bad = [
        ("", "KDF-SYNTAX"),
        ("argon2id$m=64,t=1", "KDF-SYNTAX"),
        ("argon2i$m=64,t=1,p=1", "KDF-SYNTAX"),
        ("ARGON2ID$m=64,t=1,p=1", "KDF-SYNTAX"),
        ("argon2id$t=1,m=64,p=1", "KDF-SYNTAX"),
        ("argon2id$m=64, t=1,p=1", "KDF-SYNTAX"),
        ("argon2id$m=64,t=1,p=1\n", "KDF-SYNTAX"),
        ("argon2id$v=19$m=64,t=1,p=1", "KDF-SYNTAX"),
        ("argon2id$m=064,t=1,p=1", "KDF-SYNTAX"),
        ("argon2id$m=+64,t=1,p=1", "KDF-SYNTAX"),
        ("argon2id$m=\u0666\u0664,t=1,p=1", "KDF-SYNTAX"),
        ("argon2id$m=12345678,t=1,p=1", "KDF-SYNTAX"),
        ("argon2id$m=0,t=1,p=1", "KDF-SYNTAX"),
        ("argon2id$m=7,t=1,p=1", "KDF-BOUNDS"),
        ("argon2id$m=63,t=1,p=8", "KDF-BOUNDS"),
        ("argon2id$m=1048577,t=1,p=1", "KDF-BOUNDS"),
        ("argon2id$m=64,t=17,p=1", "KDF-BOUNDS"),
        ("argon2id$m=64,t=1,p=9", "KDF-BOUNDS"),
    ]
    return {
        "description": (
            "Argon2id and HKDF derivations. Argon2id runs with the params recorded in each vector "
            "(TEST_KDF: cheap on purpose, never for production); 'argon2id' is its raw 32-byte "
            "output, for debugging."
        ),
        "password_keys": passwords,
        "source_keys": sources,
        "recovery_kek": recoveries,
        "digest": digests,
        "normalize_codename": codenames,
        "kdf_params": [
            {
                "text": p.encode(),
                "memory_kib": p.memory_kib,
                "iterations": p.iterations,
                "lanes": p.lanes,
            }
            for p in valid
        ],
        "reject": [{"name": text or "empty", "rule": rule, "text": text} for text, rule in bad],
    }


# -- sessions -------------------------------------------------------------------------------------


def sessions_file() -> dict[str, Any]:
    vectors = []
    for name, data in [
        ("staff-session", b'{"user":"alice","kek":"<unwrapped key stays here>"}'),
        ("empty-data", b""),
    ]:
        token = det_bytes("session-token/" + name, 32)
        keys = session_keys(token)
        seed = rng_seed("session/" + name)
        vectors.append(
            {
                "name": name,
                "token": token.hex(),
                "session_id": keys.session_id,
                "key": keys.key.hex(),
                "rng_seed": seed.hex(),
                "data": data.hex(),
                "sealed": seal_session(keys, data, DeterministicRandom(seed)).hex(),
            }
        )
    good = bytes.fromhex(vectors[0]["sealed"])
    token = bytes.fromhex(vectors[0]["token"])

    def reject(
        name: str, rule: str, note: str, sealed: bytes, other: bytes = token
    ) -> dict[str, Any]:
        return {
            "name": name,
            "rule": rule,
            "note": note,
            "token": other.hex(),
            "sealed": sealed.hex(),
        }

    return {
        "description": "Session seals (MSLS). " + RNG_NOTE,
        "vectors": vectors,
        "reject": [
            reject("empty", "SESSION-LENGTH", "no bytes", b""),
            reject("tag-only", "SESSION-LENGTH", "magic, nonce and 15 bytes", good[:32]),
            reject("wrong-magic", "SESSION-MAGIC", "magic MSLX", b"MSLX" + good[4:]),
            reject("version-2", "SESSION-MAGIC", "version 2", good[:4] + b"\x02" + good[5:]),
            reject(
                "other-token",
                "SESSION-AUTH",
                "opened with another session's token",
                good,
                det_bytes("session-token/other", 32),
            ),
            reject(
                "flipped-byte", "SESSION-AUTH", "bit 0 of the first ciphertext byte", flip(good, 17)
            ),
            reject("truncated", "SESSION-AUTH", "last byte missing", good[:-1]),
            reject("extended", "SESSION-AUTH", "one byte appended", good + b"\x00"),
        ],
    }


# -- key files ------------------------------------------------------------------------------------

KEYFILE_MAGIC = b"MSLR\x01"


def keyfile_header(params: KdfParams, salt: bytes, public_key: bytes) -> bytes:
    cost = params.encode().encode()
    return KEYFILE_MAGIC + bytes([len(cost)]) + cost + salt + public_key


def keyfile_kek(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    root = _hazmat.argon2id(
        unicodedata.normalize("NFC", passphrase).encode(),
        salt=salt,
        memory_kib=params.memory_kib,
        iterations=params.iterations,
        lanes=params.lanes,
        length=32,
    )
    return _hazmat.hkdf(root, info=b"mailslot/v1/keyfile/kek")


KEYFILE_CASES: list[tuple[str, str, str, KdfParams, str]] = [
    (
        "alice-test-cost",
        "recipient-alice",
        "offline passphrase: correct horse battery",
        TEST_KDF,
        "ASCII passphrase at the test cost",
    ),
    (
        "bob-decomposed-passphrase",
        "recipient-bob",
        "cafe\u0301 \ube44\ubc00 \ubb38\uc7a5 1234",
        TEST_KDF,
        "a decomposed (NFD) passphrase: NFC is applied before Argon2id",
    ),
    (
        "alice-default-cost",
        "recipient-alice",
        "offline passphrase: correct horse battery",
        DEFAULT_KDF,
        "the login default cost (64 MiB, 3 passes); writers use 256 MiB",
    ),
]


def keyfile_file() -> dict[str, Any]:
    vectors = []
    made: dict[str, bytes] = {}
    for name, key_name, passphrase, params, note in KEYFILE_CASES:
        seed = KEY_SEEDS[key_name]
        rng = rng_seed("keyfile/" + name)
        data = seal_keyfile(seed, passphrase, params, DeterministicRandom(rng))
        salt = det_bytes_from(rng, 1, 16)
        public_key = KeyPair.from_seed(seed).public_key
        header = keyfile_header(params, salt, public_key)
        kek = keyfile_kek(passphrase, salt, params)
        assert data[: len(header)] == header
        assert open_secret(kek, data[len(header) :], header) == seed
        made[name] = data
        vectors.append(
            {
                "name": name,
                "note": note,
                "key": key_name,
                "seed": seed.hex(),
                "passphrase": passphrase,
                "params": params.encode(),
                "rng_seed": rng.hex(),
                "salt": salt.hex(),
                "kek": kek.hex(),
                "header_length": len(header),
                "fingerprint": key_fingerprint(public_key).hex(),
                "keyfile": data.hex(),
            }
        )
    good = made["alice-test-cost"]
    name, key_name, passphrase, params, _ = KEYFILE_CASES[0]
    cost = params.encode().encode()
    n = len(cost)
    salt_at = 6 + n
    key_at = salt_at + 16
    wrap_at = key_at + 1221
    salt, public_key, wrapped = good[salt_at:key_at], good[key_at:wrap_at], good[wrap_at:]
    bob_public = KeyPair.from_seed(KEY_SEEDS["recipient-bob"]).public_key

    def with_cost(text: bytes) -> bytes:
        return KEYFILE_MAGIC + bytes([len(text)]) + text + salt + public_key + wrapped

    def with_key(key: bytes) -> bytes:
        return good[:key_at] + key + wrapped

    mismatched_header = good[:key_at] + bob_public
    mismatched = mismatched_header + seal_secret(
        keyfile_kek(passphrase, salt, params),
        KEY_SEEDS["recipient-alice"],
        mismatched_header,
        DeterministicRandom(rng_seed("keyfile/mismatch")),
    )
    bad_mlkem = public_key[:5] + b"\xff" * _hazmat.MLKEM768_PUBLIC_SIZE + public_key[-32:]
    rejects = [
        ("empty", "KEYFILE-MAGIC", "no bytes", b""),
        ("wrong-magic", "KEYFILE-MAGIC", "magic MSLX", b"MSLX" + good[4:]),
        ("version-2", "KEYFILE-MAGIC", "version 2", good[:4] + b"\x02" + good[5:]),
        ("public-key-instead", "KEYFILE-MAGIC", "a bare MSLK public key", public_key),
        ("marker-only", "KEYFILE-LENGTH", "the five marker bytes alone", good[:5]),
        ("truncated", "KEYFILE-LENGTH", "last byte missing", good[:-1]),
        ("extended", "KEYFILE-LENGTH", "one byte appended", good + b"\x00"),
        (
            "cost-length-off-by-one",
            "KEYFILE-LENGTH",
            "the cost length byte one too large",
            good[:5] + bytes([n + 1]) + good[6:],
        ),
        ("cost-syntax", "KEYFILE-PARAMS", "m=064", with_cost(b"argon2id$m=064,t=1,p=1")),
        ("cost-too-small", "KEYFILE-PARAMS", "m=7 KiB", with_cost(b"argon2id$m=7,t=1,p=1")),
        (
            "cost-too-large",
            "KEYFILE-PARAMS",
            "m = 2 GiB, over the 1 GiB bound: refused before any work",
            with_cost(b"argon2id$m=2097152,t=1,p=1"),
        ),
        ("cost-not-ascii", "KEYFILE-PARAMS", "a byte 0xff", with_cost(b"argon2id$m=64,t=1,p=\xff")),
        ("cost-empty", "KEYFILE-PARAMS", "a zero-length cost", with_cost(b"")),
        ("key-magic", "KEYFILE-KEY", "public key marked MSLX", with_key(b"MSLX" + public_key[4:])),
        (
            "key-encoding",
            "KEYFILE-KEY",
            "every ML-KEM coefficient 4095, above q",
            with_key(bad_mlkem),
        ),
        ("flipped-salt", "KEYFILE-AUTH", "bit 0 of the first salt byte", flip(good, salt_at)),
        ("flipped-nonce", "KEYFILE-AUTH", "bit 0 of the wrap's nonce", flip(good, wrap_at + 5)),
        ("flipped-tag", "KEYFILE-AUTH", "bit 7 of the last byte", flip(good, -1, 0x80)),
        (
            "other-cost",
            "KEYFILE-AUTH",
            "a valid cost of the same length (t=2) replacing the real one",
            with_cost(b"argon2id$m=64,t=2,p=1"),
        ),
        (
            "other-public-key",
            "KEYFILE-AUTH",
            "bob's public key in place of alice's",
            with_key(bob_public),
        ),
        (
            "seed-of-another-key",
            "KEYFILE-MISMATCH",
            "an authentic wrap of alice's seed under a header holding bob's public key",
            mismatched,
        ),
    ]
    out = [
        {"name": n_, "rule": r, "note": note, "passphrase": passphrase, "keyfile": d.hex()}
        for n_, r, note, d in rejects
    ]
    out.append(
        {
            "name": "wrong-passphrase",
            "rule": "KEYFILE-AUTH",
            "note": "the right file, another passphrase",
            "passphrase": passphrase + "!",
            "keyfile": good.hex(),
        }
    )
    return {
        "description": (
            "Offline key files (MSLR): a recipient's key seed under a passphrase. "
            "salt is the first 16 bytes from DeterministicRandom(rng_seed), the wrap's nonce the "
            "next 12. kek = HKDF(Argon2id(NFC(passphrase), salt, params), "
            "info='mailslot/v1/keyfile/kek'); fingerprint = SHA-256('mailslot/v1/fingerprint' "
            "|| 0x00 || public_key). " + RNG_NOTE
        ),
        "vectors": vectors,
        "reject": out,
    }


def det_bytes_from(seed: bytes, call: int, n: int) -> bytes:
    """The ``call``-th output (from 1) of DeterministicRandom(seed), for ``n`` bytes."""
    return _hazmat.hkdf(seed, info=b"mailslot/test-vectors/" + str(call).encode(), length=n)


# -- export bundles -------------------------------------------------------------------------------

BUNDLE_TIME = 1_764_165_600  # a whole hour, as the server stores case and item times


@dataclass(frozen=True)
class BundleItem:
    label: str
    position: int
    kind: str
    plaintext: bytes
    meta: dict[str, Any]
    item_id: bytes
    data_key: bytes
    key_version: int = 0  # the case key version its data key is wrapped to

    @property
    def sealed(self) -> bytes:
        return seal_item(
            self.item_id,
            self.data_key,
            self.plaintext,
            DeterministicRandom(rng_seed("bundle-item/" + self.label)),
        )

    @property
    def sealed_meta(self) -> bytes:
        full = dict(self.meta, size=len(self.plaintext), time=BUNDLE_TIME + 60 * self.position)
        return seal_meta(
            self.item_id,
            self.data_key,
            full,
            DeterministicRandom(rng_seed("bundle-meta/" + self.label)),
        )


@dataclass(frozen=True)
class BundleCase:
    label: str
    case_id: bytes
    seed: bytes
    pseudonym: str
    readers: tuple[str, ...]
    items: tuple[BundleItem, ...]
    # After a revocation the case key is rotated: ``seed`` is the current version's seed,
    # and these are the earlier versions' (version 0 first).
    past_seeds: tuple[bytes, ...] = ()

    @property
    def key_version(self) -> int:
        return len(self.past_seeds)

    def seed_of(self, version: int) -> bytes:
        return self.seed if version == self.key_version else self.past_seeds[version]


def bundle_cases() -> list[BundleCase]:
    def item(
        label: str, position: int, kind: str, plaintext: bytes, key_version: int = 0, **meta: Any
    ) -> BundleItem:
        return BundleItem(
            label,
            position,
            kind,
            plaintext,
            meta,
            det_bytes("bundle-item-id/" + label, 16),
            det_bytes("bundle-data-key/" + label, 32),
            key_version,
        )

    reply = BundleItem(
        "reply",
        3,
        "reply",
        "Thank you. We will be careful. 고맙습니다.".encode(),
        {},
        det_bytes("item-id/reply", 16),
        det_bytes("data-key/reply", 32),
    )
    return [
        BundleCase(
            "first",
            det_bytes("case-id/1", 16),
            det_bytes("case-seed/1", 32),
            "amber falcon",
            ("recipient-alice", "recipient-bob"),
            (
                item("message", 1, "message", b"Troops left the base on Monday.\n"),
                item(
                    "file",
                    2,
                    "file",
                    build(pattern(7, 2000)),
                    filename="../minutes 2026.pdf",
                    content_type="application/pdf",
                ),
                reply,
            ),
        ),
        # Alice's access to the second case was revoked: the key was rotated to version 1,
        # she holds no wrap of any version, and bob holds both.
        BundleCase(
            "second",
            det_bytes("case-id/2", 16),
            det_bytes("case-seed/2-v1", 32),
            "quiet harbour",
            ("recipient-bob",),
            (
                item("second-message", 1, "message", b"Only bob may read this."),
                item("after-rotation", 2, "message", b"Sent after the key was rotated.", 1),
            ),
            past_seeds=(det_bytes("case-seed/2", 32),),
        ),
    ]


def wrap_pool() -> list[bytes]:
    """Wraps made on earlier runs (HPKE cannot be made deterministic): reused when they open."""
    pool = [bytes.fromhex(v["wrapped"]) for v in existing_wraps().values()]
    path = HERE / "bundle.json"
    if path.exists():
        for vector in json.loads(path.read_text())["vectors"]:
            for record in read_all(io.BytesIO(bytes.fromhex(vector["bundle"]))):
                if isinstance(record, CaseRecord):
                    pool += [w.wrapped for w in record.wraps]
                    pool += [w.wrapped for w in record.past_wraps]
                elif isinstance(record, DropKeyRecord):
                    pool += [w.wrapped for w in record.wraps]
                else:
                    pool.append(record.wrap)
    return pool


def stable_wrap(
    pool: list[bytes], recipient: KeyPair, secret: bytes, purpose: bytes, context_id: bytes
) -> bytes:
    for wrapped in pool:
        try:
            if recipient.unwrap(wrapped, purpose, context_id) == secret:
                return wrapped
        except DecryptionError:
            continue
    return wrap_key(recipient.public_key, secret, purpose, context_id)


def bundle_bytes(
    cases: list[BundleCase], pool: list[bytes], drop_keys: tuple[DropKeyRecord, ...] = ()
) -> bytes:
    out = io.BytesIO()
    writer = BundleWriter(out, drop_keys)
    for case in cases:
        case_key = KeyPair.from_seed(case.seed)
        wraps, past = [], []
        for reader in case.readers:
            pair = KeyPair.from_seed(KEY_SEEDS[reader])
            fingerprint = key_fingerprint(pair.public_key)
            context = case_key_context(case.case_id, case.key_version)
            wrapped = stable_wrap(pool, pair, case.seed, WrapPurpose.CASE_KEY, context)
            wraps.append(CaseWrap(fingerprint, wrapped))
            for version, seed in enumerate(case.past_seeds):
                context = case_key_context(case.case_id, version)
                wrapped = stable_wrap(pool, pair, seed, WrapPurpose.CASE_KEY, context)
                past.append(PastWrap(fingerprint, version, wrapped))
        writer.case(
            CaseRecord(
                id=case.case_id,
                pseudonym=case.pseudonym,
                created_at=BUNDLE_TIME,
                public_key=case_key.public_key,
                wraps=tuple(wraps),
                items=len(case.items),
                key_version=case.key_version,
                past_wraps=tuple(past),
            )
        )
        for item in case.items:
            sealed = item.sealed
            item_case_key = KeyPair.from_seed(case.seed_of(item.key_version))
            wrapped = stable_wrap(
                pool, item_case_key, item.data_key, WrapPurpose.ITEM_KEY, item.item_id
            )
            record = ItemRecord(
                case=case.case_id,
                id=item.item_id,
                position=item.position,
                kind=item.kind,
                created_at=BUNDLE_TIME,
                sealed_meta=item.sealed_meta,
                wrap=wrapped,
                size=len(sealed),
                key_version=item.key_version,
            )
            writer.item(record, [sealed])
    writer.finish()
    return out.getvalue()


def bundle_vector(
    cases: list[BundleCase],
    pool: list[bytes],
    *,
    name: str = "two-cases",
    note: str = (
        "alice can open the first case only, bob both; the second case's key was rotated "
        "(alice's access revoked), so its items are under key versions 0 and 1"
    ),
    drop_keys: tuple[DropKeyRecord, ...] = (),
) -> dict[str, Any]:
    data = bundle_bytes(cases, pool, drop_keys)
    return {
        "name": name,
        "note": note,
        "keys": {
            name: {
                "seed": KEY_SEEDS[name].hex(),
                "fingerprint": key_fingerprint(KeyPair.from_seed(KEY_SEEDS[name]).public_key).hex(),
            }
            for name in ("recipient-alice", "recipient-bob")
        },
        "cases": [
            {
                "id": case.case_id.hex(),
                "seed": case.seed.hex(),
                "key_version": case.key_version,
                "past_seeds": [seed.hex() for seed in case.past_seeds],
                "pseudonym": case.pseudonym,
                "created_at": BUNDLE_TIME,
                "readers": list(case.readers),
                "items": [
                    {
                        "id": item.item_id.hex(),
                        "position": item.position,
                        "kind": item.kind,
                        "key_version": item.key_version,
                        "data_key": item.data_key.hex(),
                        "meta_rng_seed": rng_seed("bundle-meta/" + item.label).hex(),
                        "item_rng_seed": rng_seed("bundle-item/" + item.label).hex(),
                        "meta": json.loads(
                            json.dumps(
                                dict(
                                    item.meta,
                                    size=len(item.plaintext),
                                    time=BUNDLE_TIME + 60 * item.position,
                                )
                            )
                        ),
                        "plaintext": item.plaintext.hex(),
                    }
                    for item in case.items
                ],
            }
            for case in cases
        ],
        "bundle_sha256": _hazmat.sha256(data).hex(),
        "bundle": data.hex(),
    }


def bundle_rejects(good: bytes) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Structural reject vectors, built from named pieces to keep the file small."""
    first = next(r for r in read_all(io.BytesIO(good)) if isinstance(r, CaseRecord))
    case = dict(case_frame(first), items=2, wraps=case_frame(first)["wraps"][:1])
    item_id_1, item_id_2 = (
        det_bytes("bundle-reject/item-1", 16),
        det_bytes("bundle-reject/item-2", 16),
    )
    base_item = {
        "type": "item",
        "case": first.id.hex(),
        "id": item_id_1.hex(),
        "position": 1,
        "kind": "message",
        "created_at": BUNDLE_TIME,
        "sealed_meta": det_bytes("bundle-reject/meta", 40).hex(),
        "wrap": det_bytes("bundle-reject/wrap", 1173).hex(),
        "size": 8,
        "key_version": 0,
    }
    item_1 = base_item
    item_2 = dict(base_item, id=item_id_2.hex(), position=2)
    end = {"type": "end", "cases": 1, "items": 2}
    stream = b"stream-1"

    def frame(obj: dict[str, Any]) -> bytes:
        return encode_frame(obj)

    def raw(text: bytes) -> bytes:
        return u32(len(text)) + text

    pieces = {"case": frame(case), "item-1": frame(item_1), "item-2": frame(item_2)}
    out: list[dict[str, Any]] = []

    # Long values recur in many frames: stored once, as pieces, and named where they occur.
    common = {
        "case-public-key-text": case["public_key"].encode(),
        "case-wrap-text": case["wraps"][0]["wrapped"].encode(),
        "item-wrap-text": base_item["wrap"].encode(),
    }

    def split(data: bytes) -> list[Any]:
        for piece, text in common.items():
            at = data.find(text)
            if at >= 0:
                return [*split(data[:at]), piece, *split(data[at + len(text) :])]
        return [{"hex": data.hex()}] if data else []

    def add(name: str, rule: str, note: str, *parts: str | bytes) -> None:
        built = b"".join(pieces[p] if isinstance(p, str) else p for p in parts)
        encoded = [q for p in parts for q in ([p] if isinstance(p, str) else split(p))]
        out.append(
            {"name": name, "rule": rule, "note": note, "bundle": encoded, "length": len(built)}
        )

    magic = b"MSLB\x02"
    body = ("case", "item-1", stream, "item-2", stream)
    ok = (magic, *body, frame(end))
    assert (
        len(read_all(io.BytesIO(b"".join(pieces[p] if isinstance(p, str) else p for p in ok)))) == 3
    )
    add("empty", "BUNDLE-MAGIC", "no bytes")
    add("wrong-magic", "BUNDLE-MAGIC", "magic MSLX", b"MSLX\x01", *body, frame(end))
    add("version-3", "BUNDLE-MAGIC", "version 3", b"MSLB\x03", *body, frame(end))
    add("item-stream", "BUNDLE-MAGIC", "an item stream's marker", b"MSLI\x01", *body, frame(end))
    add("marker-only", "BUNDLE-TRUNCATED", "the marker and nothing else", magic)
    add("no-end-frame", "BUNDLE-TRUNCATED", "cut exactly before the end frame", magic, *body)
    add("cut-in-end-frame", "BUNDLE-TRUNCATED", "last byte missing", magic, *body, frame(end)[:-1])
    add(
        "cut-in-stream",
        "BUNDLE-TRUNCATED",
        "cut inside the first item stream",
        magic,
        "case",
        "item-1",
        stream[:5],
    )
    add("cut-in-length", "BUNDLE-TRUNCATED", "two bytes of a frame length", magic, b"\x00\x00")
    add("trailing-byte", "BUNDLE-TRAILING", "a zero byte after the end frame", *ok, b"\x00")
    add("second-end", "BUNDLE-TRAILING", "the end frame twice", *ok, frame(end))
    add(
        "frame-too-large",
        "BUNDLE-FRAME-SIZE",
        "a frame length of 1 MiB + 1",
        magic,
        u32(1024 * 1024 + 1),
        b"{}",
    )
    add(
        "frame-length-max",
        "BUNDLE-FRAME-SIZE",
        "a frame length of 2^32 - 1",
        magic,
        b"\xff\xff\xff\xff",
    )

    def with_end(*frames: bytes, e: dict[str, Any] | None = None) -> tuple[bytes | str, ...]:
        return (magic, *frames, frame(e or {"type": "end", "cases": 0, "items": 0}))

    add("json-empty", "BUNDLE-JSON", "a zero-length frame", magic, raw(b""), frame(end))
    add("json-not-utf8", "BUNDLE-JSON", "a byte 0xff in a string", magic, raw(b'{"type":"\xff"}'))
    add("json-syntax", "BUNDLE-JSON", "not JSON", magic, raw(b"{type: end}"))
    add("json-array", "BUNDLE-JSON", "an array, not an object", magic, raw(b'["end",0,0]'))
    add(
        "json-duplicate-key",
        "BUNDLE-JSON",
        "the key cases twice",
        magic,
        raw(b'{"cases":0,"cases":0,"items":0,"type":"end"}'),
    )
    add(
        "json-fraction",
        "BUNDLE-JSON",
        "0.0 for a count",
        magic,
        raw(b'{"cases":0.0,"items":0,"type":"end"}'),
    )
    add(
        "json-exponent",
        "BUNDLE-JSON",
        "0e0 for a count",
        magic,
        raw(b'{"cases":0e0,"items":0,"type":"end"}'),
    )
    add("json-nan", "BUNDLE-JSON", "NaN", magic, raw(b'{"cases":NaN,"items":0,"type":"end"}'))
    add(
        "json-trailing",
        "BUNDLE-JSON",
        "an object followed by more text",
        magic,
        raw(b'{"cases":0,"items":0,"type":"end"} x'),
    )

    def case_with(**changes: Any) -> bytes:
        return frame({**case, **changes, "items": 0})

    def case_without(key: str) -> bytes:
        return frame({k: v for k, v in case.items() if k != key} | {"items": 0})

    empty_end = {"type": "end", "cases": 1, "items": 0}
    add(
        "unknown-frame-type",
        "BUNDLE-FIELD",
        "a frame of type note",
        *with_end(frame({"type": "note"})),
    )
    add(
        "no-type",
        "BUNDLE-FIELD",
        "a frame without type",
        *with_end(frame({"cases": 0, "items": 0})),
    )
    add(
        "case-missing-key",
        "BUNDLE-FIELD",
        "no pseudonym",
        *with_end(case_without("pseudonym"), e=empty_end),
    )
    add(
        "case-extra-key",
        "BUNDLE-FIELD",
        "an extra key channel",
        *with_end(case_with(channel="x"), e=empty_end),
    )
    add(
        "upper-case-hex",
        "BUNDLE-FIELD",
        "the case id in upper case",
        *with_end(case_with(id=first.id.hex().upper()), e=empty_end),
    )
    add(
        "odd-hex",
        "BUNDLE-FIELD",
        "a case id of 31 hex digits",
        *with_end(case_with(id=first.id.hex()[:-1]), e=empty_end),
    )
    add(
        "short-id",
        "BUNDLE-FIELD",
        "a case id of 15 bytes",
        *with_end(case_with(id=first.id.hex()[:-2]), e=empty_end),
    )
    add(
        "bool-time",
        "BUNDLE-FIELD",
        "created_at true",
        *with_end(case_with(created_at=True), e=empty_end),
    )
    add(
        "negative-time",
        "BUNDLE-FIELD",
        "created_at -1",
        *with_end(case_with(created_at=-1), e=empty_end),
    )
    add(
        "huge-time",
        "BUNDLE-FIELD",
        "created_at 2^53",
        *with_end(case_with(created_at=2**53), e=empty_end),
    )
    add(
        "string-time",
        "BUNDLE-FIELD",
        "created_at as a string",
        *with_end(case_with(created_at="0"), e=empty_end),
    )
    add(
        "bad-public-key",
        "BUNDLE-FIELD",
        "a case public key marked MSLX",
        *with_end(case_with(public_key="4d534c58" + case["public_key"][8:]), e=empty_end),
    )
    add(
        "empty-pseudonym",
        "BUNDLE-FIELD",
        "an empty pseudonym",
        *with_end(case_with(pseudonym=""), e=empty_end),
    )
    add(
        "bidi-pseudonym",
        "BUNDLE-FIELD",
        "a pseudonym holding U+202E",
        *with_end(case_with(pseudonym="amber\u202efalcon"), e=empty_end),
    )
    add(
        "long-pseudonym",
        "BUNDLE-FIELD",
        "101 characters",
        *with_end(case_with(pseudonym="a" * 101), e=empty_end),
    )
    add(
        "wraps-not-list",
        "BUNDLE-FIELD",
        "wraps as an object",
        *with_end(case_with(wraps={}), e=empty_end),
    )
    add(
        "short-fingerprint",
        "BUNDLE-FIELD",
        "a 31-byte recipient fingerprint",
        *with_end(
            case_with(wraps=[dict(case["wraps"][0], recipient=case["wraps"][0]["recipient"][:-2])]),
            e=empty_end,
        ),
    )
    add(
        "unknown-kind",
        "BUNDLE-FIELD",
        "an item of kind photo",
        magic,
        frame(dict(case, items=1)),
        frame(dict(item_1, kind="photo")),
        stream,
        frame({"type": "end", "cases": 1, "items": 1}),
    )
    add(
        "string-size",
        "BUNDLE-FIELD",
        "an item size as a string",
        magic,
        frame(dict(case, items=1)),
        frame(dict(item_1, size="8")),
        stream,
        frame({"type": "end", "cases": 1, "items": 1}),
    )
    add(
        "item-first",
        "BUNDLE-SEQUENCE",
        "an item before any case",
        magic,
        "item-1",
        stream,
        frame(end),
    )
    add(
        "fewer-items",
        "BUNDLE-SEQUENCE",
        "two items announced, one present",
        magic,
        "case",
        "item-1",
        stream,
        frame(dict(end, items=1)),
    )
    add(
        "more-items",
        "BUNDLE-SEQUENCE",
        "two items announced, three present",
        magic,
        *body,
        frame(dict(item_2, id=det_bytes("bundle-reject/item-3", 16).hex(), position=3)),
        stream,
        frame(dict(end, items=3)),
    )
    add(
        "other-case",
        "BUNDLE-SEQUENCE",
        "an item naming another case id",
        magic,
        "case",
        "item-1",
        stream,
        frame(dict(item_2, case=det_bytes("case-id/9", 16).hex())),
        stream,
        frame(end),
    )
    add(
        "positions-backwards",
        "BUNDLE-SEQUENCE",
        "positions 2 then 1",
        magic,
        "case",
        frame(dict(item_1, position=2)),
        stream,
        frame(dict(item_2, position=1)),
        stream,
        frame(end),
    )
    add(
        "positions-equal",
        "BUNDLE-SEQUENCE",
        "position 1 twice",
        magic,
        "case",
        "item-1",
        stream,
        frame(dict(item_2, position=1)),
        stream,
        frame(end),
    )
    add(
        "end-count-wrong",
        "BUNDLE-SEQUENCE",
        "the end frame counts 2 cases",
        *ok[:-1],
        frame(dict(end, cases=2)),
    )
    add(
        "case-before-items-done",
        "BUNDLE-SEQUENCE",
        "a new case while one item is still due",
        magic,
        "case",
        "item-1",
        stream,
        frame(dict(case, id=det_bytes("case-id/9", 16).hex(), items=0)),
        frame(dict(end, cases=2, items=1)),
    )
    add(
        "item-id-twice",
        "BUNDLE-DUPLICATE",
        "the second item has the first one's id",
        magic,
        "case",
        "item-1",
        stream,
        frame(dict(item_2, id=item_id_1.hex())),
        stream,
        frame(end),
    )
    add(
        "case-id-twice",
        "BUNDLE-DUPLICATE",
        "two cases with one id",
        magic,
        frame(dict(case, items=0)),
        frame(dict(case, items=0)),
        frame(dict(end, cases=2, items=0)),
    )
    add(
        "wrap-recipient-twice",
        "BUNDLE-DUPLICATE",
        "two wraps for one fingerprint",
        *with_end(case_with(wraps=[case["wraps"][0], case["wraps"][0]]), e=empty_end),
    )
    # Key versions (version 2 of the format).
    past_wrap = {
        "recipient": case["wraps"][0]["recipient"],
        "version": 0,
        "wrapped": case["wraps"][0]["wrapped"],
    }
    add(
        "past-wrap-not-earlier",
        "BUNDLE-FIELD",
        "a past wrap of version 1 in a case at version 1",
        *with_end(case_with(key_version=1, past_wraps=[dict(past_wrap, version=1)]), e=empty_end),
    )
    add(
        "key-version-too-large",
        "BUNDLE-FIELD",
        "key_version 2^32",
        *with_end(case_with(key_version=2**32), e=empty_end),
    )
    add(
        "past-wrap-missing-key",
        "BUNDLE-FIELD",
        "a past wrap without its version",
        *with_end(
            case_with(
                key_version=1, past_wraps=[{k: v for k, v in past_wrap.items() if k != "version"}]
            ),
            e=empty_end,
        ),
    )
    add(
        "version-1-with-key-versions",
        "BUNDLE-FIELD",
        "a version 1 bundle whose case frame has version 2's keys",
        b"MSLB\x01",
        frame(dict(case, items=0)),
        frame(empty_end),
    )
    add(
        "past-wrap-twice",
        "BUNDLE-DUPLICATE",
        "one fingerprint and version twice",
        *with_end(case_with(key_version=1, past_wraps=[past_wrap, past_wrap]), e=empty_end),
    )
    add(
        "item-after-the-case-key",
        "BUNDLE-SEQUENCE",
        "an item under key version 1 in a case at version 0",
        magic,
        frame(dict(case, items=1)),
        frame(dict(item_1, key_version=1)),
        stream,
        frame({"type": "end", "cases": 1, "items": 1}),
    )
    return {name: data.hex() for name, data in (pieces | common).items()}, out


def build_bundle_parts(parts: list[Any], pieces: dict[str, str]) -> bytes:
    return b"".join(
        bytes.fromhex(pieces[p]) if isinstance(p, str) else bytes.fromhex(p["hex"]) for p in parts
    )


def version_1_vectors() -> list[dict[str, Any]]:
    """The bundles of format version 1 from earlier runs, kept as they are: readers still open
    them (their wraps were made once and cannot be made again)."""
    path = HERE / "bundle.json"
    if not path.exists():
        return []
    kept = []
    for vector in json.loads(path.read_text())["vectors"]:
        if bytes.fromhex(vector["bundle"][:10]) == b"MSLB\x01":
            kept.append(
                dict(
                    vector,
                    name="two-cases-version-1",
                    note=(
                        "format version 1 (before key versions), written by an earlier Mailslot: "
                        "alice can open the first case only, bob both"
                    ),
                )
            )
    return kept


# A sealed drop (format version 3): a channel's drop key, wrapped to alice only, and a case
# (alice and bob) holding one file that is an age file sealed to that drop key.
DROP_SEED = det_bytes("bundle-drop-key/seed", 32)
DROP_ID = det_bytes("bundle-drop-key/id", 16)
DROP_CONTENT = b"Sealed on a computer that never went online.\n"
DROP_VECTOR = "a-sealed-drop"


def _earlier_drop(pair: drops.DropKeyPair) -> bytes | None:
    """The age file of an earlier run (age's own randomness cannot be replayed): reused while
    it still opens to DROP_CONTENT."""
    path = HERE / "bundle.json"
    if not path.exists():
        return None
    for vector in json.loads(path.read_text())["vectors"]:
        if vector["name"] == DROP_VECTOR:
            sealed = bytes.fromhex(vector["cases"][0]["items"][0]["plaintext"])
            try:
                if b"".join(drops.open_stream([pair.identity], [sealed])) == DROP_CONTENT:
                    return sealed
            except drops.DropError:
                return None
    return None


def drop_vector(pool: list[bytes]) -> dict[str, Any]:
    pair = drops.DropKeyPair(DROP_SEED)
    sealed = _earlier_drop(pair) or b"".join(drops.seal_stream([pair.recipient], [DROP_CONTENT]))
    alice = KeyPair.from_seed(KEY_SEEDS["recipient-alice"])
    wrapped = stable_wrap(pool, alice, DROP_SEED, WrapPurpose.DROP_KEY, DROP_ID)
    record = DropKeyRecord(DROP_ID, (CaseWrap(key_fingerprint(alice.public_key), wrapped),))
    drop = BundleItem(
        "drop",
        1,
        "file",
        sealed,
        {"filename": "report.txt.age", "content_type": "application/octet-stream", "drop": True},
        det_bytes("bundle-item-id/drop", 16),
        det_bytes("bundle-data-key/drop", 32),
    )
    case = BundleCase(
        "drop",
        det_bytes("case-id/drop", 16),
        det_bytes("case-seed/drop", 32),
        "silent meadow",
        ("recipient-alice", "recipient-bob"),
        (drop,),
    )
    vector = bundle_vector(
        [case],
        pool,
        name=DROP_VECTOR,
        note=(
            "format version 3: a drop key frame (its seed wrapped to alice only), then a case "
            "both can open holding an age file sealed to that drop key; alice opens the drop "
            "to drop_content, bob holds no wrap of the drop key"
        ),
        drop_keys=(record,),
    )
    vector["drop_keys"] = [
        {
            "id": DROP_ID.hex(),
            "seed": DROP_SEED.hex(),
            "recipient": str(pair.recipient),
            "holders": ["recipient-alice"],
        }
    ]
    vector["drop_content"] = DROP_CONTENT.hex()
    return vector


def bundle_file() -> dict[str, Any]:
    pool = wrap_pool()
    vector = bundle_vector(bundle_cases(), pool)
    pieces, rejects = bundle_rejects(bytes.fromhex(vector["bundle"]))
    return {
        "description": (
            "Export bundles (MSLB). Each case's seed is wrapped (HPKE, made once) to its readers' "
            "keys; each item's data key to the case key. Item streams and sealed metadata are "
            "reproducible from item_rng_seed and meta_rng_seed. A reject vector's bundle is the "
            "concatenation of its parts: a string names an entry of 'pieces', an object holds hex. "
            + RNG_NOTE
        ),
        "vectors": [vector, *version_1_vectors(), drop_vector(pool)],
        "pieces": pieces,
        "reject": rejects,
    }


# -- backups --------------------------------------------------------------------------------------

BACKUP_PASSPHRASE = "lantern orchard quietly folding maps"
BACKUP_TIME = 1_764_165_600


def backup_row(table: str, **values: Any) -> bytes:
    """A row frame for this schema's ``table``, values in column order, typed as the spec says."""
    spec = next(s for s in backups.table_specs() if s.name == table)
    return backups.encode_frame(
        {"type": "row", "values": [c.encode(values[c.name]) for c in spec.codecs]}
    )


BACKUP_SIZE = 64
BACKUP_BLOB = pattern(0, BACKUP_SIZE)
BACKUP_ITEM = {
    "id": det_bytes("backup/item", 16).hex(),
    "case_id": det_bytes("backup/case", 16).hex(),
    "position": 0,
    "kind": "file",
    "author_id": None,
    "blob_id": det_bytes("backup/blob", 32).hex(),
    "stored_size": BACKUP_SIZE,
    "sealed_meta": b"MSLM\x01" + det_bytes("backup/meta", 40),
    "created_at": BACKUP_TIME,
    "seen_by_source": False,
    "key_version": 0,
}


def backup_payload(
    *,
    manifest: dict[str, Any] | None = None,
    rows: dict[str, list[bytes]] | None = None,
    end: dict[str, Any] | None = None,
    order: list[str] | None = None,
) -> bytes:
    """A payload: the manifest, every table with ``rows`` (raw frame bytes), the end frame."""
    specs = backups.table_specs()
    base = {
        "type": "manifest",
        "format": 1,
        "mailslot": "0.1.0",
        "schema": HEAD,
        "created_at": BACKUP_TIME,
        "tables": [{"name": s.name, "columns": s.columns} for s in specs],
    }
    out = backups.encode_frame({**base, **(manifest or {})})
    counts = {}
    for name in order or [s.name for s in specs]:
        out += backups.encode_frame({"type": "table", "name": name})
        frames = (rows or {}).get(name, [])
        counts[name] = sum(1 for f in frames if b'"type":"row"' in f)
        out += b"".join(frames)
    blobs = sum(1 for f in (rows or {}).get("items", []) if b'"type":"blob"' in f)
    totals = {
        "type": "end",
        "rows": counts,
        "blobs": blobs,
        "bytes": BACKUP_SIZE * blobs,
        "dropped": 0,
    }
    return out + backups.encode_frame({**totals, **(end or {})})


def item_rows() -> list[bytes]:
    blob = backups.encode_frame({"type": "blob", "id": BACKUP_ITEM["blob_id"], "size": BACKUP_SIZE})
    return [backup_row("items", **BACKUP_ITEM), blob + build(BACKUP_BLOB)]


def wrap_rows() -> list[bytes]:
    return [backup_row("item_key_wraps", item_id=BACKUP_ITEM["id"], holder="case", wrapped=b"w")]


def good_backup_payload() -> bytes:
    return backup_payload(
        rows={
            "items": item_rows(),
            "item_key_wraps": wrap_rows(),
            "rate_buckets": [
                backup_row("rate_buckets", name="submit", tokens=9.5, updated_at=0.25)
            ],
        }
    )


def seal_backup(label: str, payload: bytes) -> tuple[dict[str, Any], Spec]:
    """Seal a payload (one chunk) with DeterministicRandom(rng_seed(label)): the inputs and
    the archive as a recipe (header, then the one final chunk, sealed with AES-256-GCM)."""
    assert padded_length(len(payload)) <= CAP
    seed = rng_seed("backup/" + label)
    rng = DeterministicRandom(seed)
    header = new_backup_header(TEST_KDF, rng)
    key = backup_key(BACKUP_PASSPHRASE, header)
    sealer = backup_sealer(header, key, rng)
    item_header = sealer.header()
    real = header.encode() + item_header + sealer.update(payload) + b"".join(sealer.finish())
    payload_key = _hazmat.hkdf(key, salt=item_header[-16:], info=b"mailslot/v1/item/payload")
    pad = padded_length(len(payload)) - len(payload)
    recipe = concat(
        hexs(header.encode() + item_header),
        aes256gcm(
            payload_key,
            nonce(0, True),
            item_header,
            concat(hexs(u32(len(payload)) + payload), zeros(pad)),
        ),
    )
    assert build(recipe) == real
    fields = {
        "rng_seed": seed.hex(),
        "cost": TEST_KDF.encode(),
        "salt": header.salt.hex(),
        "archive_id": header.archive_id.hex(),
        "key": key.hex(),
        "payload_key": payload_key.hex(),
    }
    return fields, recipe


def backup_rejects() -> list[dict[str, Any]]:
    rejects: list[dict[str, Any]] = []
    # Rules of the header and the stream need no real payload: a short one keeps them small.
    _, good = seal_backup("short", b"\x00\x00\x00\x00")
    good_bytes = build(good)
    head = 5 + 1 + good_bytes[5]

    def add(
        name: str, rule: str, note: str, archive: Spec, passphrase: str = BACKUP_PASSPHRASE
    ) -> None:
        rejects.append(
            {
                "name": name,
                "rule": rule,
                "note": note,
                "passphrase": passphrase,
                "archive": stored(archive),
            }
        )

    def sealed(name: str, rule: str, note: str, payload: bytes) -> None:
        add(name, rule, note, seal_backup("reject/" + name, payload)[1])

    add("empty", "BACKUP-MAGIC", "no bytes at all", hexs(b""))
    prefix, chunk = good["concat"]
    prefix_bytes = build(prefix)

    def with_prefix(data: bytes) -> Spec:
        return concat(hexs(data), chunk)

    add(
        "version-2",
        "BACKUP-MAGIC",
        "an unknown version byte",
        with_prefix(b"MSLA\x02" + prefix_bytes[5:]),
    )
    add("bundle", "BACKUP-MAGIC", "an export bundle's marker", hexs(b"MSLB\x01" + good_bytes[5:64]))
    add("cut-in-salt", "BACKUP-HEADER", "ends inside the salt", hexs(good_bytes[: head + 7]))
    add("cut-in-cost", "BACKUP-HEADER", "ends inside the cost string", hexs(good_bytes[:9]))
    huge = b"argon2id$m=99999999,t=3,p=1"
    add(
        "cost-bounds",
        "BACKUP-PARAMS",
        "a cost beyond KDF-BOUNDS: refused before Argon2id",
        with_prefix(b"MSLA\x01" + bytes([len(huge)]) + huge + prefix_bytes[head:]),
    )
    odd = b"argon2id$m=64,t=1,p=\xb9"
    add(
        "cost-not-ascii",
        "BACKUP-PARAMS",
        "a cost that is not ASCII",
        with_prefix(b"MSLA\x01" + bytes([len(odd)]) + odd + prefix_bytes[head:]),
    )
    add(
        "wrong-passphrase",
        "BACKUP-AUTH",
        "the right archive, another passphrase",
        good,
        "lantern orchard quietly folding map",
    )
    add(
        "salt-changed",
        "BACKUP-AUTH",
        "a changed salt gives another key",
        with_prefix(flip(prefix_bytes, head)),
    )
    add(
        "archive-id-changed",
        "BACKUP-AUTH",
        "the header's archive id is not the stream's item id",
        with_prefix(flip(prefix_bytes, head + 16)),
    )
    add(
        "stream-cut",
        "BACKUP-AUTH",
        "the last byte of the final chunk is missing",
        take(len(good_bytes) - 1, good),
    )
    add(
        "stream-trailing",
        "BACKUP-AUTH",
        "a byte after the final chunk",
        concat(good, hexs(b"\x00")),
    )
    add(
        "tag-flipped",
        "BACKUP-AUTH",
        "one bit of the chunk's tag changed",
        concat(take(len(good_bytes) - 1, good), hexs(bytes([good_bytes[-1] ^ 0x01]))),
    )

    valid = good_backup_payload()
    sealed(
        "frame-too-large",
        "BACKUP-FRAME-SIZE",
        "a frame length of 1 MiB + 1, refused before reading",
        u32(backups.MAX_FRAME_SIZE + 1) + bytes(16),
    )
    float_manifest = backups.encode_frame({"type": "manifest", "format": 1.0})
    sealed("float", "BACKUP-JSON", "a number with a fraction", float_manifest + valid)
    dup = valid.replace(b'"format":1,', b'"format":1,"format":1,', 1)
    dup = u32(struct.unpack(">I", dup[:4])[0] + 11) + dup[4:]
    sealed("duplicate-key", "BACKUP-JSON", "a key twice in the manifest", dup)
    sealed("not-object", "BACKUP-JSON", "a frame that is a JSON array", u32(2) + b"[]" + valid)
    extra_key = backups.encode_frame({"type": "row", "values": [], "extra": 1})
    sealed(
        "row-extra-key",
        "BACKUP-FIELD",
        "a row frame with a key not listed for it",
        backup_payload(rows={"counters": [extra_key]}),
    )
    bad_bucket = backup_row("rate_buckets", name="submit", tokens=9.5, updated_at=0.25).replace(
        b'"9.5"', b'"9.50"'
    )
    sealed(
        "float-spelling",
        "BACKUP-FIELD",
        "a float column spelled otherwise than repr()",
        backup_payload(rows={"rate_buckets": [bad_bucket]}),
    )
    padded = backup_row(
        "item_key_wraps", item_id=BACKUP_ITEM["id"], holder="case", wrapped=b"w"
    ).replace(b'"dw=="', b'"dx=="')
    sealed(
        "base64-spelling",
        "BACKUP-FIELD",
        "base64 with stray bits in its last character",
        backup_payload(rows={"items": item_rows(), "item_key_wraps": [padded]}),
    )
    null = backup_row("rate_buckets", name="submit", tokens=9.5, updated_at=0.25).replace(
        b'"submit"', b"null"
    )
    sealed(
        "null-in-not-null",
        "BACKUP-FIELD",
        "NULL in a column that cannot hold it",
        backup_payload(rows={"rate_buckets": [null]}),
    )
    sealed(
        "other-schema",
        "BACKUP-SCHEMA",
        "a schema revision this reader does not have",
        backup_payload(manifest={"schema": "0001"}),
    )
    sealed(
        "format-2",
        "BACKUP-SCHEMA",
        "a payload format this reader does not know",
        backup_payload(manifest={"format": 2}),
    )
    specs = backups.table_specs()
    tables = [{"name": s.name, "columns": s.columns} for s in specs]
    tables[0] = {**tables[0], "columns": list(reversed(tables[0]["columns"]))}
    sealed(
        "columns-reordered",
        "BACKUP-SCHEMA",
        "the first table's columns in another order",
        backup_payload(manifest={"tables": tables}),
    )
    sealed(
        "item-without-blob",
        "BACKUP-SEQUENCE",
        "an items row not followed by its blob frame",
        backup_payload(rows={"items": item_rows()[:1]}),
    )
    identity = backup_row(
        "identities",
        id=det_bytes("backup/identity", 16).hex(),
        case_id=BACKUP_ITEM["case_id"],
        public_key=det_bytes("backup/identity-key", 32),
        blob_id=det_bytes("backup/identity-blob", 32).hex(),
        stored_size=BACKUP_SIZE,
        sealed_meta=b"MSLM\x01" + det_bytes("backup/identity-meta", 40),
        created_at=BACKUP_TIME,
    )
    sealed(
        "identity-without-blob",
        "BACKUP-SEQUENCE",
        "an identities row not followed by its blob frame",
        backup_payload(rows={"identities": [identity]}),
    )
    sealed(
        "wrap-without-item",
        "BACKUP-SEQUENCE",
        "an item key wrap whose item is not in the archive",
        backup_payload(rows={"item_key_wraps": wrap_rows()}),
    )
    names = [s.name for s in specs]
    sealed(
        "tables-swapped",
        "BACKUP-SEQUENCE",
        "two tables out of the manifest's order",
        backup_payload(order=[names[1], names[0], *names[2:]]),
    )
    sealed(
        "end-count",
        "BACKUP-SEQUENCE",
        "an end frame whose row counts do not match",
        backup_payload(end={"blobs": 1}),
    )
    blob_size = item_rows()
    blob_size[1] = blob_size[1].replace(b'"size":64', b'"size":63')
    sealed(
        "blob-size",
        "BACKUP-SEQUENCE",
        "a blob frame whose size is not the row's stored_size",
        backup_payload(rows={"items": blob_size}),
    )
    sealed(
        "no-end",
        "BACKUP-TRUNCATED",
        "the payload stops after the last table: no end frame",
        valid[: valid.rindex(b'{"blobs"') - 4],
    )
    sealed("cut-in-frame", "BACKUP-TRUNCATED", "the payload stops inside a frame", valid[:-5])
    cut_blob = valid[: valid.index(build(BACKUP_BLOB)) + BACKUP_SIZE // 2]
    sealed("cut-in-blob", "BACKUP-TRUNCATED", "the payload stops inside a blob", cut_blob)
    sealed("after-end", "BACKUP-TRAILING", "a byte of payload after the end frame", valid + b"\x00")
    return rejects


def backup_file() -> dict[str, Any]:
    payload = good_backup_payload()
    fields, archive = seal_backup("good", payload)
    return {
        "description": (
            "Backup archives (MSLA) at the test cost. The payload is a valid payload for schema "
            "revision " + HEAD + " (rewrite this file when the schema changes): the manifest, "
            "every table, one items row with its 64-byte blob, its key wrap, one rate bucket, "
            "the end frame. An archive is sealed from its payload with DeterministicRandom("
            "rng_seed): salt, archive id, then the stream salt. " + RECIPE_NOTE + " " + RNG_NOTE
        ),
        "vectors": [
            {
                "name": "one-item",
                "passphrase": BACKUP_PASSPHRASE,
                **fields,
                "schema": HEAD,
                "payload": stored(hexs(payload)),
                "archive": stored(archive),
            }
        ],
        "reject": backup_rejects(),
    }


# -- main -----------------------------------------------------------------------------------------

FILES: dict[str, Callable[[], dict[str, Any]]] = {
    "keys.json": keys_file,
    "wraps.json": wraps_file,
    "secret_wraps.json": secret_wraps_file,
    "items.json": items_file,
    "meta.json": meta_file,
    "derive.json": derive_file,
    "sessions.json": sessions_file,
    "keyfile.json": keyfile_file,
    "bundle.json": bundle_file,
    "backup.json": backup_file,
}


def open_reject(name: str, v: dict[str, Any], pieces: dict[str, str]) -> object:
    """Hand one reject vector to the reader it is meant for."""
    x = bytes.fromhex
    if name == "keys.json":
        check_public_key(x(v["public_key"]))
        return None
    if name == "wraps.json":
        pair = KeyPair.from_seed(x(v["recipient_seed"]))
        return pair.unwrap(x(v["wrapped"]), v["purpose"].encode(), x(v["context_id"]))
    if name == "secret_wraps.json":
        return open_secret(x(v["kek"]), x(v["wrapped"]), x(v["context"]))
    if name == "items.json":
        return open_item(x(v["item_id"]), x(v["data_key"]), build(v["ciphertext"]["data"]))
    if name == "meta.json":
        return open_meta(x(v["item_id"]), x(v["data_key"]), build(v["sealed"]["data"]))
    if name == "derive.json":
        return KdfParams.decode(v["text"])
    if name == "sessions.json":
        return open_session(session_keys(x(v["token"])), x(v["sealed"]))
    if name == "keyfile.json":
        return open_keyfile(x(v["keyfile"]), v["passphrase"])
    if name == "bundle.json":
        return read_all(io.BytesIO(build_bundle_parts(v["bundle"], pieces)))
    if name == "backup.json":
        entries = backups.open_archive(io.BytesIO(build(v["archive"]["data"])), v["passphrase"])
        return list(entries)
    raise AssertionError(name)


def self_check(name: str, content: dict[str, Any]) -> None:
    """Fail loudly if a reject vector does not in fact reject."""
    for v in content.get("reject", []):
        try:
            open_reject(name, v, content.get("pieces", {}))
        except (DecryptionError, backups.ArchiveUnreadable):
            continue
        raise AssertionError(f"reject vector {name}:{v['name']} was accepted")


def render(content: dict[str, Any]) -> str:
    return json.dumps(content, indent=1) + "\n"


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    if argv and not check:
        sys.stderr.write(__doc__ or "")
        return 2
    stale = []
    for name, make in FILES.items():
        path = HERE / name
        content = make()
        self_check(name, content)
        text = render(content)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        sys.stderr.write("out of date: " + ", ".join(stale) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
