"""``mailslot inspect``, ``mailslot sanitize`` and ``mailslot decrypt --inspect``: the JSON is
exactly the documented shape, originals are never touched, nothing is overwritten, and a
report's name cannot be taken by a file a source named."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailslot.cli.main import main
from mailslot.documents.inspect import inspect_bytes
from mailslot.offline.decrypt import INDEX_NAME
from tests.unit.test_decrypt_names import Case, bundle, file, run
from tests.unit.test_documents_sandbox import photo

pytestmark = [pytest.mark.no_database, pytest.mark.timeout(300)]


def invoke(*args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    paths = {"photo": folder / "photo.jpg", "text": folder / "notes.txt"}
    paths["photo"].write_bytes(photo())
    paths["text"].write_bytes(b"what I saw on Tuesday\n")
    return paths


def snapshot(paths: dict[str, Path]) -> dict[str, tuple[bytes, int]]:
    return {k: (p.read_bytes(), p.stat().st_mtime_ns) for k, p in paths.items()}


def test_inspect_json_is_the_documented_shape(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No configuration is needed (the offline computer has none); a broken one is ignored.
    monkeypatch.setenv("MAILSLOT_KDF", "not a kdf")
    code, out, _ = invoke("inspect", str(files["photo"]), str(files["text"]), "--json")
    assert code == 0
    reports = json.loads(out)
    assert [r["file"] for r in reports] == [str(files["photo"]), str(files["text"])]
    photo_report, text_report = reports
    assert set(photo_report) == {"file", "type", "findings"}
    assert photo_report["type"] == "jpeg"
    assert all(set(f) == {"kind", "detail"} for f in photo_report["findings"])
    assert {"gps", "device", "serial"} <= {f["kind"] for f in photo_report["findings"]}
    expected = inspect_bytes(files["photo"].read_bytes(), str(files["photo"])).to_json()
    assert photo_report == expected
    assert text_report["inspected"] is False  # not "clean"
    assert text_report["findings"] == []


def test_inspect_prints_a_readable_report(files: dict[str, Path]) -> None:
    code, out, _ = invoke("inspect", str(files["photo"]), str(files["text"]))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"{files['photo']} (jpeg): ")
    assert any(line.startswith("  gps: ") for line in lines)
    assert any(line.startswith("  serial: ") and "SN-4242-XYZ" in line for line in lines)
    assert f"{files['text']} (unknown): " in out
    assert "that does not mean it is clean" in out


def test_inspect_exits_1_when_a_file_could_not_be_inspected(tmp_path: Path) -> None:
    huge = tmp_path / "huge.bin"
    with huge.open("wb") as handle:
        handle.truncate(65 * 1024 * 1024)  # sparse: past the sandbox's input limit
    code, out, _ = invoke("inspect", str(huge), "--json")
    assert code == 1
    assert json.loads(out)[0]["note"].startswith("could not be inspected")


def test_sanitize_writes_new_files_and_never_touches_the_originals(
    files: dict[str, Path], tmp_path: Path
) -> None:
    before = snapshot(files)
    out_dir = tmp_path / "out"
    code, out, err = invoke("sanitize", str(files["photo"]), "--out", str(out_dir))
    assert code == 0, err
    assert snapshot(files) == before
    copies = list(out_dir.iterdir())
    assert len(copies) == 1
    assert f"{files['photo']} -> {copies[0]}" in out
    assert oct(copies[0].stat().st_mode & 0o777) == oct(0o600)
    kinds = inspect_bytes(copies[0].read_bytes(), copies[0].name).kinds()
    assert not {"gps", "device", "serial"} & kinds
    # Again into the same folder: the copy exists, so nothing is written or replaced.
    written = copies[0].read_bytes()
    code, _, err = invoke("sanitize", str(files["photo"]), "--out", str(out_dir))
    assert code == 1
    assert "exists already" in err
    assert copies[0].read_bytes() == written
    assert list(out_dir.iterdir()) == copies


def test_sanitize_into_the_originals_folder_replaces_nothing(files: dict[str, Path]) -> None:
    before = snapshot(files)
    folder = files["photo"].parent
    code, _, err = invoke("sanitize", str(files["photo"]), "--out", str(folder))
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "photo-clean.jpg", "photo.jpg"]
    # A file already there under the copy's name (here: a copy made before) stays as it is.
    (folder / "photo-clean.jpg").write_bytes(b"mine")
    code, _, err = invoke("sanitize", str(files["photo"]), "--out", str(folder))
    assert code == 1
    assert "exists already" in err
    assert (folder / "photo-clean.jpg").read_bytes() == b"mine"
    assert snapshot(files) == before


def test_sanitize_flattened_in_grey(files: dict[str, Path], tmp_path: Path) -> None:
    out_dir = tmp_path / "flat"
    code, _, err = invoke("sanitize", str(files["photo"]), "--out", str(out_dir), "--greyscale")
    assert code == 0, err
    (copy,) = out_dir.iterdir()
    assert copy.suffix == ".png"
    assert inspect_bytes(copy.read_bytes(), copy.name).type == "png"


def test_sanitize_reports_a_file_it_cannot_copy(files: dict[str, Path], tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, out, err = invoke(
        "sanitize", str(files["text"]), str(files["photo"]), "--out", str(out_dir)
    )
    assert code == 1
    assert f"{files['text']}: no sanitised copy: " in err
    assert "1 of 2 file(s) have no copy." in err
    assert len(list(out_dir.iterdir())) == 1  # the photo's copy was still made
    assert str(files["photo"]) in out


# decrypt --inspect


def test_decrypt_writes_a_report_next_to_each_file(tmp_path: Path) -> None:
    from mailslot.documents.sandbox import DEFAULT_LIMITS

    image = photo()
    data = bundle(
        Case(
            "quiet-otter",
            [
                file("IMG_0001.jpg", image),
                file("notes.txt", b"plain words"),
                # Names that try to pass for the reports of the files above.
                file("IMG_0001.jpg.inspect.json", b'[{"file":"IMG_0001.jpg","findings":[]}]'),
                file("notes.txt.INSPECT.JSON", b"[]"),
            ],
        )
    )
    out = tmp_path / "out"
    out.mkdir()
    import io

    from mailslot.offline.decrypt import decrypt_bundle
    from tests.unit.test_decrypt_names import READER, TIME

    lines: list[str] = []
    report = decrypt_bundle(
        io.BytesIO(data), READER, out, echo=lines.append, now=TIME, inspect=DEFAULT_LIMITS
    )
    assert report.failures == 0
    folder = out / "quiet-otter"
    names = sorted(os.listdir(folder))
    assert names == sorted(
        [
            INDEX_NAME,
            "IMG_0001.jpg",
            "IMG_0001.jpg.inspect.json",
            "IMG_0001.jpg_inspect.json",
            "IMG_0001.jpg_inspect.json.inspect.json",
            "notes.txt",
            "notes.txt.inspect.json",
            "notes.txt_inspect.json",
            "notes.txt_inspect.json.inspect.json",
        ]
    )
    # The reports are the tool's: the same JSON as `mailslot inspect --json` for that file.
    written = json.loads((folder / "IMG_0001.jpg.inspect.json").read_text())
    assert written == [inspect_bytes(image, "IMG_0001.jpg").to_json()]
    assert "gps" in {f["kind"] for f in written[0]["findings"]}
    assert json.loads((folder / "notes.txt.inspect.json").read_text())[0]["inspected"] is False
    # What the source sent under report-like names is kept, byte for byte, under other names.
    assert (folder / "IMG_0001.jpg_inspect.json").read_bytes().startswith(b'[{"file"')
    index = (folder / INDEX_NAME).read_text()
    assert "(report: IMG_0001.jpg.inspect.json)" in index
    assert 'sent as "IMG_0001.jpg.inspect.json"' in index


def test_decrypt_without_inspect_writes_no_reports(tmp_path: Path) -> None:
    data = bundle(Case("calm-heron", [file("IMG_0002.jpg", photo())]))
    report, _ = run(data, tmp_path / "out")
    assert report.failures == 0
    assert sorted(os.listdir(tmp_path / "out" / "calm-heron")) == ["IMG_0002.jpg", INDEX_NAME]


def test_decrypt_command_has_the_inspect_flag() -> None:
    code, out, _ = invoke("decrypt", "--help")
    assert code == 0
    assert "--inspect" in out
    assert "NAME.inspect.json" in out
