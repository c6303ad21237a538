"""Coverage-guided fuzzing (atheris, libFuzzer) of the format's parsers.

    python tests/fuzz/atheris_harness.py TARGET CORPUS_DIR [libFuzzer options]

TARGET is one of ``item``, ``meta``, ``keyfile``, ``bundle``, ``kdf``. An empty CORPUS_DIR is
first seeded with the known-answer vectors of ``tests/vectors`` (valid inputs and every
MUST-reject vector), so mutations start from inputs that get deep into each parser. Each target
opens what it is given with the key of the vector it was seeded from (the first input byte picks
it): the only outcomes allowed are a result or the one opaque ``DecryptionError``; anything else
is a crash that libFuzzer reports, with the input that caused it. ``-timeout`` turns a hang into
a crash too. ``tests/unit/test_atheris.py`` runs every target for a bounded number of inputs.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout, for tests.*

with atheris.instrument_imports(include=["mailslot"]):
    from mailslot.crypto import DecryptionError, ItemOpener, KdfParams, open_meta
    from mailslot.crypto.keyfile import open_keyfile, read_keyfile_info
    from mailslot.offline.bundle import read_all

from tests.unit.crypto.test_vectors import build
from tests.unit.test_bundle import build as build_bundle

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
TEST_COST = "argon2id$m=64,t=1,p=1"  # the key-file vectors' cost: cheap enough to run per input


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / f"{name}.json").read_text())
    return data


ITEMS = _load("items")
METAS = _load("meta")
KEYFILES = _load("keyfile")
BUNDLES = _load("bundle")
ITEM_KEYS = [(bytes.fromhex(v["item_id"]), bytes.fromhex(v["data_key"])) for v in ITEMS["vectors"]]
META_KEYS = [(bytes.fromhex(v["item_id"]), bytes.fromhex(v["data_key"])) for v in METAS["vectors"]]
PASSPHRASES = [str(v["passphrase"]) for v in KEYFILES["vectors"]]


def _pick(keys: list[Any], data: bytes) -> tuple[Any, bytes]:
    return (keys[data[0] % len(keys)], data[1:]) if data else (keys[0], b"")


def fuzz_item(data: bytes) -> None:
    (item_id, data_key), rest = _pick(ITEM_KEYS, data)
    # The stream arrives in pieces; the first bytes say where it is cut (up to three cuts).
    cuts = sorted({0, len(rest), *(b * len(rest) // 255 for b in rest[:3])})
    opener = ItemOpener(item_id, data_key)
    try:
        for start, end in itertools.pairwise(cuts):
            opener.update(rest[start:end])
        opener.finish()
    except DecryptionError:
        pass


def fuzz_meta(data: bytes) -> None:
    (item_id, data_key), rest = _pick(META_KEYS, data)
    with contextlib.suppress(DecryptionError):
        open_meta(item_id, data_key, rest)


def fuzz_keyfile(data: bytes) -> None:
    passphrase, rest = _pick(PASSPHRASES, data)
    try:
        info = read_keyfile_info(rest)
    except DecryptionError:
        return
    if info.params.encode() != TEST_COST:
        return  # a costlier derivation per input would only slow the search down
    with contextlib.suppress(DecryptionError):
        open_keyfile(rest, passphrase)


def fuzz_bundle(data: bytes) -> None:
    with contextlib.suppress(DecryptionError):
        read_all(io.BytesIO(data))


def fuzz_kdf(data: bytes) -> None:
    try:
        params = KdfParams.decode(data.decode("utf-8", "replace"))
    except DecryptionError:
        return
    assert KdfParams.decode(params.encode()) == params


def as_bytes(value: Any) -> bytes | None:
    """A vector's bytes: hex, a byte recipe (or an entry holding one), or bundle pieces."""
    if isinstance(value, str):
        return bytes.fromhex(value)
    if isinstance(value, list):
        return build_bundle(value)
    if isinstance(value, dict):
        return build(value.get("data", value))
    return None  # a long vector kept as its hash only


def seeds(target: str) -> list[bytes]:
    def indexed(
        vectors: list[dict[str, Any]], keys: list[Any], field: str, key_of: Any
    ) -> list[bytes]:
        out = []
        for vector in vectors:
            data = as_bytes(vector.get(field))
            if data is None:
                continue
            key = key_of(vector)
            index = keys.index(key) if key in keys else 0
            out.append(bytes([index]) + data)
        return out

    def item_key(v: dict[str, Any]) -> Any:
        return (bytes.fromhex(v["item_id"]), bytes.fromhex(v["data_key"]))

    if target == "item":
        return indexed(ITEMS["vectors"] + ITEMS["reject"], ITEM_KEYS, "ciphertext", item_key)
    if target == "meta":
        return indexed(METAS["vectors"] + METAS["reject"], META_KEYS, "sealed", item_key)
    if target == "keyfile":
        return indexed(
            KEYFILES["vectors"] + KEYFILES["reject"],
            PASSPHRASES,
            "keyfile",
            lambda v: str(v["passphrase"]),
        )
    if target == "bundle":
        found = (as_bytes(v["bundle"]) for v in BUNDLES["vectors"] + BUNDLES["reject"])
        return [data for data in found if data is not None]
    return [TEST_COST.encode(), b"argon2id$m=65536,t=3,p=1", b"argon2id$m=0,t=0,p=0"]


TARGETS: dict[str, Callable[[bytes], None]] = {
    "item": fuzz_item,
    "meta": fuzz_meta,
    "keyfile": fuzz_keyfile,
    "bundle": fuzz_bundle,
    "kdf": fuzz_kdf,
}


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} CORPUS_DIR [libFuzzer options]")
    target = sys.argv[1]
    corpus = Path(sys.argv[2])
    corpus.mkdir(parents=True, exist_ok=True)
    if not any(corpus.iterdir()):
        for number, seed in enumerate(seeds(target)):
            (corpus / f"seed-{number:03d}").write_bytes(seed)
    atheris.Setup([sys.argv[0], *sys.argv[2:]], TARGETS[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
