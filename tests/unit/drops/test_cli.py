"""``mailslot seal`` and ``mailslot keys verify``, run through the real command group with no
configuration: sealing to a channel of a verified manifest, refusing bad manifests (and then
writing nothing), warning on forks, and checking a manifest against a fingerprint."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailslot import drops
from mailslot.cli.main import main
from mailslot.crypto.signing import SigningKey

pytestmark = pytest.mark.no_database

KEY = SigningKey.generate()
DESK = drops.DropKeyPair.generate()
NEWS = drops.DropKeyPair.generate()


def make_chain(n: int = 2, key: SigningKey = KEY) -> list[drops.Manifest]:
    versions: list[drops.Manifest] = []
    for i in range(n):
        versions.append(
            drops.make_manifest(
                key,
                previous=versions[-1] if versions else None,
                organisation="Example News",
                channels=[
                    drops.ChannelEntry("desk", str(DESK.recipient)),
                    drops.ChannelEntry("news", str(NEWS.recipient if i else DESK.recipient)),
                ],
                recipients=[],
                now=datetime(2026, 7, 1, tzinfo=UTC),
            )
        )
    return versions


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    one, two = tmp_path / "one.txt", tmp_path / "two.bin"
    one.write_text("first\n")
    two.write_bytes(bytes(range(256)) * 1000)
    return [one, two]


@pytest.fixture
def manifest_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.json"
    path.write_bytes(drops.chain_json(make_chain()))
    return path


def opened(path: Path, pair: drops.DropKeyPair) -> list[tuple[str, bytes]]:
    with path.open("rb") as handle:
        reader = drops.open_file([pair.identity], handle)
        return [(e.name, e.stream.read()) for e in drops.read_drop(reader)]


def test_seal_to_a_channel_of_a_verified_manifest(
    tmp_path: Path, files: list[Path], manifest_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILSLOT_KDF", "not a kdf")  # a stray setting must not stop it
    out = tmp_path / "drop.age"
    fpr = make_chain()[0].fingerprint
    code, stdout, stderr = invoke(
        "seal", *map(str, files), "--to", "news", "--manifest", str(manifest_file),
        "--fingerprint", fpr, "--note", "Call me.", "--out", str(out),
        "--state", str(tmp_path / "state"),
    )  # fmt: skip
    assert code == 0, stderr
    assert "Sealed 2 files and a note" in stdout
    assert stderr == ""
    assert out.stat().st_mode & 0o777 == 0o600
    # The latest version's drop key for "news", not version 1's.
    assert opened(out, NEWS) == [
        ("note.txt", b"Call me."),
        ("one.txt", b"first\n"),
        ("two.bin", bytes(range(256)) * 1000),
    ]
    with pytest.raises(drops.NoMatchingKey), out.open("rb") as handle:
        drops.open_file([DESK.identity], handle)
    assert len(list((tmp_path / "state").iterdir())) == 1


def test_seal_to_a_literal_recipient_needs_no_manifest(tmp_path: Path, files: list[Path]) -> None:
    out = tmp_path / "drop.age"
    code, _, stderr = invoke(
        "seal", str(files[0]), "--to", str(DESK.recipient), "--out", str(out), "--no-state"
    )
    assert code == 0, stderr
    assert opened(out, DESK) == [("one.txt", b"first\n")]


def test_without_a_fingerprint_the_signer_is_shown(
    tmp_path: Path, files: list[Path], manifest_file: Path
) -> None:
    code, _, stderr = invoke(
        "seal", str(files[0]), "--to", "desk", "--manifest", str(manifest_file),
        "--out", str(tmp_path / "d.age"), "--no-state",
    )  # fmt: skip
    assert code == 0
    assert make_chain()[0].fingerprint in stderr


@pytest.mark.parametrize("damage", ["signature", "chain", "fingerprint", "not json"])
def test_a_bad_manifest_is_refused_and_nothing_is_written(
    tmp_path: Path, files: list[Path], damage: str
) -> None:
    versions = make_chain(3)
    fpr = versions[0].fingerprint
    obj = json.loads(drops.chain_json(versions))
    if damage == "signature":
        obj["versions"][2]["organisation"] = "Evil News"
    elif damage == "chain":
        del obj["versions"][1]
    elif damage == "fingerprint":
        obj = json.loads(drops.chain_json(make_chain(3, SigningKey.generate())))
    path = tmp_path / "keys.json"
    path.write_text("{" if damage == "not json" else json.dumps(obj))
    out = tmp_path / "drop.age"
    code, _, stderr = invoke(
        "seal", str(files[0]), "--to", "desk", "--manifest", str(path), "--fingerprint", fpr,
        "--out", str(out), "--no-state",
    )  # fmt: skip
    assert code == 1
    assert "refused" in stderr
    assert not out.exists()


def test_a_fork_is_warned_about(tmp_path: Path, files: list[Path]) -> None:
    state = tmp_path / "state"
    versions = make_chain(2)
    first, second = tmp_path / "one.json", tmp_path / "two.json"
    first.write_bytes(drops.chain_json(versions))
    fork = drops.make_manifest(
        KEY, previous=versions[0], organisation="Example News",
        channels=[drops.ChannelEntry("desk", str(drops.DropKeyPair.generate().recipient))],
        recipients=[], now=datetime(2026, 7, 2, tzinfo=UTC),
    )  # fmt: skip
    second.write_bytes(drops.chain_json([versions[0], fork]))
    common = ["--to", "desk", "--fingerprint", versions[0].fingerprint, "--state", str(state)]
    code, _, stderr = invoke(
        "seal", str(files[0]), "--manifest", str(first), *common, "--out", str(tmp_path / "1.age")
    )
    assert code == 0
    assert "WARNING" not in stderr
    code, _, stderr = invoke(
        "seal", str(files[0]), "--manifest", str(second), *common, "--out", str(tmp_path / "2.age")
    )
    assert code == 0
    assert "forked" in stderr


def test_seal_refuses_to_overwrite(tmp_path: Path, files: list[Path]) -> None:
    out = tmp_path / "drop.age"
    out.write_bytes(b"keep me")
    code, _, stderr = invoke(
        "seal", str(files[0]), "--to", str(DESK.recipient), "--out", str(out), "--no-state"
    )
    assert code == 1
    assert "exists" in stderr
    assert out.read_bytes() == b"keep me"


def test_seal_needs_something_to_seal(tmp_path: Path) -> None:
    code, _, _ = invoke("seal", "--to", str(DESK.recipient), "--out", str(tmp_path / "x.age"))
    assert code == 2
    assert not (tmp_path / "x.age").exists()


def test_keys_verify(manifest_file: Path) -> None:
    fpr = make_chain()[0].fingerprint
    code, stdout, _ = invoke("keys", "verify", str(manifest_file), "--fingerprint", fpr)
    assert code == 0
    assert f"Verified: 2 version(s), each signed by {fpr}." in stdout
    assert str(NEWS.recipient) in stdout
    code, stdout, _ = invoke("keys", "verify", str(manifest_file), "--fingerprint", fpr, "--json")
    assert json.loads(stdout)["version"] == 2
    other = make_chain(1, SigningKey.generate())[0].fingerprint
    code, _, stderr = invoke("keys", "verify", str(manifest_file), "--fingerprint", other)
    assert code == 1
    assert "another key" in stderr


def test_a_sealed_drop_is_a_plain_age_file(tmp_path: Path, files: list[Path]) -> None:
    out = tmp_path / "drop.age"
    invoke("seal", str(files[0]), "--to", str(DESK.recipient), "--out", str(out), "--no-state")
    data = out.read_bytes()
    assert data.startswith(b"age-encryption.org/v1\n-> mlkem768x25519 ")
    payload = b"".join(drops.open_file([DESK.identity], io.BytesIO(data)))
    assert drops.looks_like_tar(payload[:512])
