"""`mailslot decrypt` and the file names a source chooses: no name stops the run.

Each bundle here is built the way the exporter builds one, with names a hostile source could
choose: another file's temporary name, the names of the tool's own files, names that differ only
in case. Every file must come out whole under a distinct name, the tool's own files must be the
tool's, nothing may be left half-written, and what cannot be written is reported while the rest
of the bundle is still decrypted.
"""

from __future__ import annotations

import errno
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mailslot.cases.meta import ItemMeta, seal_item_meta
from mailslot.cli.offline import decrypt as decrypt_command
from mailslot.crypto import (
    TEST_KDF,
    DeterministicRandom,
    KeyPair,
    WrapPurpose,
    key_fingerprint,
    seal_item,
    seal_keyfile,
    wrap_key,
)
from mailslot.filenames import OutputNames
from mailslot.offline import decrypt as decrypting
from mailslot.offline.bundle import BundleWriter, CaseRecord, CaseWrap, ItemRecord
from mailslot.offline.decrypt import INDEX_NAME, OWN_NAMES, Report, decrypt_bundle

pytestmark = [pytest.mark.timeout(120), pytest.mark.no_database]

READER = KeyPair.from_seed(b"r" * 32)
TIME = 1_764_165_600


@dataclass
class Item:
    kind: str
    content: bytes
    filename: str | None = None


@dataclass
class Case:
    pseudonym: str
    items: list[Item] = field(default_factory=list)


def bundle(*cases: Case) -> bytes:
    """A bundle of ``cases``, each addressed to READER, written as the exporter writes one."""
    out = io.BytesIO()
    writer = BundleWriter(out)
    for c, case in enumerate(cases, start=1):
        case_id = bytes([c]) * 16
        case_key = KeyPair.from_seed(bytes([c]) * 32)
        wrapped = wrap_key(READER.public_key, case_key.seed, WrapPurpose.CASE_KEY, case_id)
        writer.case(
            CaseRecord(
                id=case_id,
                pseudonym=case.pseudonym,
                created_at=TIME,
                public_key=case_key.public_key,
                wraps=(CaseWrap(key_fingerprint(READER.public_key), wrapped),),
                items=len(case.items),
            )
        )
        for position, item in enumerate(case.items, start=1):
            item_id = bytes([c, position, 0xAA, 0xBB]) * 4
            data_key = bytes([c, position, 7, 7]) * 8
            meta: ItemMeta = {"size": len(item.content), "time": TIME + position}
            if item.filename is not None:
                meta["filename"] = item.filename
            rng = DeterministicRandom(item_id)
            sealed = seal_item(item_id, data_key, item.content, rng)
            writer.item(
                ItemRecord(
                    case=case_id,
                    id=item_id,
                    position=position,
                    kind=item.kind,
                    created_at=TIME,
                    sealed_meta=seal_item_meta(item_id, data_key, meta, rng),
                    wrap=wrap_key(case_key.public_key, data_key, WrapPurpose.ITEM_KEY, item_id),
                    size=len(sealed),
                ),
                [sealed],
            )
    writer.finish()
    return out.getvalue()


def run(data: bytes, out: Path) -> tuple[Report, list[str]]:
    out.mkdir(exist_ok=True)
    lines: list[str] = []
    report = decrypt_bundle(io.BytesIO(data), READER, out, echo=lines.append, now=TIME + 3600)
    return report, lines


def files_under(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def assert_nothing_half_written(out: Path) -> None:
    leftovers = [p for p in out.rglob("*") if p.name.startswith(decrypting.TEMP_PREFIX)]
    assert leftovers == []


def file(name: str, content: bytes | None = None) -> Item:
    return Item("file", content if content is not None else f"content of {name}".encode(), name)


# -- names that used to stop the run --------------------------------------------------------------


@pytest.mark.parametrize(
    "names",
    [
        ["x.pdf.partial", "x.pdf"],
        ["x.pdf", "x.pdf.partial"],
        ["conversation.txt.partial"],
        ["x.pdf.partial", "x.pdf", "x.pdf.partial", "X.PDF.PARTIAL"],
    ],
)
def test_a_file_named_like_a_temporary_file_is_written_like_any_other(
    tmp_path: Path, names: list[str]
) -> None:
    items = [
        Item("message", b"hello\n"),
        *(file(n, f"{i}:{n}".encode()) for i, n in enumerate(names)),
    ]
    report, lines = run(bundle(Case("amber falcon", items)), tmp_path)
    assert report.failures == 0, lines
    assert report.files == len(items)
    files = files_under(tmp_path / "amber falcon")
    written = [files[o.filename] for o in report.cases[0].items[1:] if o.filename]
    assert written == [f"{i}:{n}".encode() for i, n in enumerate(names)]
    assert len(files) == len(items) + 1  # and the index
    assert files[INDEX_NAME].startswith(b"Case: amber falcon\n")
    assert_nothing_half_written(tmp_path)


def test_the_tools_own_names_stay_the_tools(tmp_path: Path) -> None:
    hostile = [
        "conversation.txt",
        "CONVERSATION.TXT",
        "conversation (2).txt",
        "conversation.txt.partial",
        "003-reply.txt",
        "001-Message.txt",
        "005-file",
        ".mailslot-abc.partial",
    ]
    items = [
        Item("message", b"the source's message\n"),
        *(file(n) for n in hostile),
        Item("file", b"a file with no name", ""),
    ]
    items.insert(2, Item("reply", b"the newsroom's reply\n"))  # position 3
    report, lines = run(bundle(Case("amber falcon", items)), tmp_path)
    assert report.failures == 0, lines
    files = files_under(tmp_path / "amber falcon")
    assert files[INDEX_NAME].startswith(b"Case: amber falcon\n")
    assert files["001-message.txt"] == b"the source's message\n"
    assert files["003-reply.txt"] == b"the newsroom's reply\n"
    assert files["011-file"] == b"a file with no name"
    assert files["_conversation.txt"] == b"content of conversation.txt"
    assert files["_CONVERSATION (2).TXT"] == b"content of CONVERSATION.TXT"
    assert files["_conversation (2) (2).txt"] == b"content of conversation (2).txt"
    assert files["conversation.txt.partial"] == b"content of conversation.txt.partial"
    assert files["_003-reply.txt"] == b"content of 003-reply.txt"
    assert files["_001-Message.txt"] == b"content of 001-Message.txt"
    assert files["_005-file"] == b"content of 005-file"
    assert files["mailslot-abc.partial"] == b"content of .mailslot-abc.partial"
    assert len(files) == len(items) + 1
    index = files[INDEX_NAME].decode()
    assert 'sent as "conversation.txt"' in index
    assert_nothing_half_written(tmp_path)


def test_names_that_differ_only_in_case_get_distinct_names(tmp_path: Path) -> None:
    names = ["Report.pdf", "report.PDF", "REPORT.pdf", "report (2).pdf"]
    report, lines = run(bundle(Case("amber falcon", [file(n) for n in names])), tmp_path)
    assert report.failures == 0, lines
    taken = [o.filename or "" for o in report.cases[0].items]
    assert len({t.casefold() for t in taken}) == len(names)
    files = files_under(tmp_path / "amber falcon")
    assert sorted(files[t] for t in taken) == sorted(f"content of {n}".encode() for n in names)


def test_a_hostile_first_case_does_not_stop_the_rest(tmp_path: Path) -> None:
    hostile = Case(
        "amber falcon",
        [file("x.pdf.partial"), file("x.pdf"), file("conversation.txt.partial")],
    )
    later = [Case(p, [Item("message", f"for {p}".encode()), file("x.pdf")]) for p in ("b", "c")]
    report, lines = run(bundle(hostile, *later), tmp_path)
    assert report.failures == 0, lines
    assert [c.record.pseudonym for c in report.opened] == ["amber falcon", "b", "c"]
    files = files_under(tmp_path)
    for p in ("b", "c"):
        assert files[f"{p}/001-message.txt"] == f"for {p}".encode()
        assert files[f"{p}/x.pdf"] == b"content of x.pdf"
        assert f"{p}/{INDEX_NAME}" in files
    assert_nothing_half_written(tmp_path)


# -- what cannot be written is reported, and the run goes on ------------------------------------


def test_an_item_that_cannot_be_written_is_reported_and_the_rest_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_rename = os.rename

    def rename(src: Any, dst: Any) -> None:
        if Path(dst).name == "full.pdf":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_rename(src, dst)

    monkeypatch.setattr(decrypting.os, "rename", rename)
    first = Case("amber falcon", [file("full.pdf"), Item("message", b"after\n")])
    report, lines = run(bundle(first, Case("b", [file("x.pdf")])), tmp_path)
    assert report.failures == 1
    assert report.write_errors == 1
    assert any("NOT WRITTEN" in line and "full.pdf" in line for line in lines)
    files = files_under(tmp_path)
    assert "amber falcon/full.pdf" not in files
    assert files["amber falcon/002-message.txt"] == b"after\n"
    assert "NOT WRITTEN" in files[f"amber falcon/{INDEX_NAME}"].decode()
    assert files["b/x.pdf"] == b"content of x.pdf"
    assert_nothing_half_written(tmp_path)


def test_a_case_folder_that_cannot_be_made_is_reported_and_the_rest_goes_on(
    tmp_path: Path,
) -> None:
    (tmp_path / "amber falcon").write_bytes(b"in the way")
    report, lines = run(
        bundle(Case("amber falcon", [file("a.pdf")]), Case("b", [file("b.pdf")])), tmp_path
    )
    assert report.failures == 1
    assert report.write_errors == 1
    assert any(line.startswith("Case amber falcon: NOT WRITTEN") for line in lines)
    assert (tmp_path / "amber falcon").read_bytes() == b"in the way"
    assert (tmp_path / "b" / "b.pdf").read_bytes() == b"content of b.pdf"


def test_an_existing_file_is_never_replaced(tmp_path: Path) -> None:
    """The last word is the file system's (it may ignore case where the names do not)."""
    (tmp_path / "x.pdf").write_bytes(b"already here")
    with pytest.raises(FileExistsError):
        decrypting._write_verified(tmp_path, "x.pdf", iter([b"new"]))
    assert (tmp_path / "x.pdf").read_bytes() == b"already here"
    assert [p.name for p in tmp_path.iterdir()] == ["x.pdf"]


def test_an_index_that_cannot_be_written_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_rename = os.rename

    def rename(src: Any, dst: Any) -> None:
        if Path(dst).name == INDEX_NAME and Path(dst).parent.name == "amber falcon":
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_rename(src, dst)

    monkeypatch.setattr(decrypting.os, "rename", rename)
    report, lines = run(
        bundle(Case("amber falcon", [file("a.pdf")]), Case("b", [file("b.pdf")])), tmp_path
    )
    assert report.write_errors == 1
    assert any("index" in line and "NOT WRITTEN" in line for line in lines)
    files = files_under(tmp_path)
    assert files["amber falcon/a.pdf"] == b"content of a.pdf"
    assert f"b/{INDEX_NAME}" in files
    assert_nothing_half_written(tmp_path)


# -- the command ----------------------------------------------------------------------------------


def command(tmp_path: Path, data: bytes, out: str = "out") -> Any:
    (tmp_path / "case.bundle").write_bytes(data)
    (tmp_path / "key").write_bytes(seal_keyfile(READER.seed, "a passphrase", TEST_KDF))
    (tmp_path / "pass.txt").write_text("a passphrase\n")
    args = [str(tmp_path / "case.bundle"), "--key", str(tmp_path / "key")]
    args += ["--out", str(tmp_path / out), "--passphrase-file", str(tmp_path / "pass.txt")]
    return CliRunner().invoke(decrypt_command, args)


def test_command_decrypts_every_case_despite_hostile_names(tmp_path: Path) -> None:
    hostile = Case("amber falcon", [file("x.pdf.partial"), file("x.pdf"), file("conversation.txt")])
    result = command(tmp_path, bundle(hostile, Case("b", [file("x.pdf")])))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert (tmp_path / "out" / "b" / "x.pdf").read_bytes() == b"content of x.pdf"
    assert (tmp_path / "out" / "amber falcon" / "x.pdf.partial").exists()


def test_command_reports_what_it_could_not_write_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_rename = os.rename

    def rename(src: Any, dst: Any) -> None:
        if Path(dst).name == "full.pdf":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_rename(src, dst)

    monkeypatch.setattr(decrypting.os, "rename", rename)
    result = command(tmp_path, bundle(Case("a", [file("full.pdf")]), Case("b", [file("x.pdf")])))
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "1 item(s) or case(s) could not be written" in result.output
    assert "damaged" not in result.output.split("Wrote")[-1]
    assert (tmp_path / "out" / "b" / "x.pdf").read_bytes() == b"content of x.pdf"


# -- output names ---------------------------------------------------------------------------------


def test_output_names_keep_the_tools_own_forms() -> None:
    names = OutputNames(OWN_NAMES)
    names.reserve(INDEX_NAME)
    assert names.take_own("001-message.txt") == "001-message.txt"
    assert [
        names.take(n, fallback="004-file")
        for n in ("conversation.txt", "002-Reply.TXT", "", "004-file", "x.pdf.partial", "_x")
    ] == ["_conversation.txt", "_002-Reply.TXT", "004-file", "_004-file", "x.pdf.partial", "_x"]
    assert names.take("conversation.txt") == "_conversation (2).txt"
    # No output name starts with a dot, so temporary names cannot be taken.
    assert not names.take(".mailslot-x.partial").startswith(".")
