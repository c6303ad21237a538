"""Interoperability with an independent age implementation, both ways: the ``age-encryption``
package from npm (TypeScript, on the noble libraries), pinned in ``tests/interop``.

The package is installed with ``npm ci`` into ``tests/interop/node_modules`` when missing
(``./scripts/test`` does it first). Without Node or the npm registry these tests skip on a
developer's machine, and fail in CI, where they must run.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from mailslot import drops
from mailslot.drops import armor

pytestmark = [pytest.mark.no_database, pytest.mark.timeout(300)]

INTEROP = Path(__file__).parents[2] / "interop"
Node = Callable[..., bytes]


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"the age interoperability kit must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def node() -> Node:
    node_bin, npm = shutil.which("node"), shutil.which("npm")
    if node_bin is None or npm is None:
        _unavailable("node and npm are not installed")
    assert node_bin is not None
    assert npm is not None
    if not (INTEROP / "node_modules" / "age-encryption" / "package.json").exists():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=INTEROP,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        if done.returncode != 0:
            _unavailable(f"npm ci failed: {done.stderr[-500:]}")

    def run(*args: str, data: bytes = b"") -> bytes:
        done = subprocess.run(
            [node_bin, "age.mjs", *args], cwd=INTEROP, input=data, capture_output=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return done.stdout

    return run


def test_the_same_identity_gives_the_same_recipient_in_both(node: Node) -> None:
    theirs = json.loads(node("keygen"))
    assert str(drops.PqIdentity.parse(theirs["identity"]).recipient) == theirs["recipient"]
    ours = drops.DropKeyPair.generate()
    assert node("recipient", ours.identity_string()).decode().strip() == str(ours.recipient)


def test_a_file_they_seal_to_our_drop_key_opens_here(node: Node) -> None:
    ours = drops.DropKeyPair.generate()
    data = os.urandom(3 * 64 * 1024 + 99)  # several chunks
    sealed = node("encrypt", str(ours.recipient), data=data)
    assert sealed.startswith(b"age-encryption.org/v1\n-> mlkem768x25519 ")
    assert b"".join(drops.open_file([ours.identity], io.BytesIO(sealed))) == data
    with pytest.raises(drops.NoMatchingKey):
        drops.open_file([drops.DropKeyPair.generate().identity], io.BytesIO(sealed))


def test_a_file_they_seal_to_several_recipients_opens_here(node: Node) -> None:
    theirs = json.loads(node("keygen"))
    ours = drops.DropKeyPair.generate()
    sealed = node("encrypt", theirs["recipient"], str(ours.recipient), data=b"to two desks")
    assert b"".join(drops.open_file([ours.identity], io.BytesIO(sealed))) == b"to two desks"


def test_a_drop_we_seal_opens_there(node: Node, tmp_path: Path) -> None:
    ours = drops.DropKeyPair.generate()
    report, photo = tmp_path / "report.txt", tmp_path / "photo.bin"
    report.write_text("The troops left on Tuesday.\n")
    photo.write_bytes(os.urandom(150_000))
    sink = io.BytesIO()
    with drops.DropWriter([ours.recipient], sink) as writer:
        drops.write_drop(writer, [report, photo], "A note.")
    payload = node("decrypt", ours.identity_string(), data=sink.getvalue())
    with tarfile.open(fileobj=io.BytesIO(payload)) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    assert members == {
        "note.txt": b"A note.",
        "files/report.txt": report.read_bytes(),
        "files/photo.bin": photo.read_bytes(),
    }


@pytest.mark.parametrize("size", [0, 64 * 1024, 64 * 1024 + 1])
def test_files_we_seal_at_chunk_boundaries_open_there(node: Node, size: int) -> None:
    ours = drops.DropKeyPair.generate()
    data = os.urandom(size)
    sealed = b"".join(drops.seal_stream([ours.recipient], [data]))
    assert node("decrypt", ours.identity_string(), data=sealed) == data


def test_armor_both_ways(node: Node) -> None:
    ours = drops.DropKeyPair.generate()
    sealed = b"".join(drops.seal_stream([ours.recipient], [b"armored"]))
    assert node("decrypt", ours.identity_string(), data=armor.encode(sealed)) == b"armored"
