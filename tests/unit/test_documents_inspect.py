"""Inspection: every finding kind found where a generated file carries it (positive), and
nothing found in a file of the same type that does not (negative); types detected from
content; unknown types reported as not inspected, never as clean."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from mailslot.documents.detect import TYPES, detect_type
from mailslot.documents.errors import DocumentError, NotSanitisable, UnreadableDocument
from mailslot.documents.findings import KINDS, FileReport, Finding
from mailslot.documents.images import DOTS
from mailslot.documents.inspect import inspect_bytes
from mailslot.documents.sanitize import sanitize_bytes
from mailslot.documents.video import iso6709
from tests.unit import documents_corpus as corpus

pytestmark = pytest.mark.no_database

DOCS = Path(__file__).resolve().parents[2] / "docs"

# What each generated rich file must be found to carry.
RICH_KINDS: dict[str, set[str]] = {
    "jpeg": {"author", "device", "gps", "revision", "serial", "thumbnail", "timestamp",
             "trailing_data"},
    "png": {"author", "device", "gps", "revision", "serial", "timestamp", "trailing_data"},
    "gif": {"author", "trailing_data"},
    "webp": {"author", "device", "gps", "revision", "serial", "timestamp", "trailing_data"},
    "tiff": {"author", "device", "gps", "revision", "serial", "timestamp"},
    "heif": {"author", "device", "gps", "revision", "serial", "timestamp"},
    "pdf": {"attachment", "author", "device", "gps", "revision", "script", "serial",
            "thumbnail", "timestamp", "trailing_data"},
    "docx": {"attachment", "author", "device", "printer", "revision", "script", "thumbnail",
             "timestamp"},
    "xlsx": {"author", "device", "printer", "revision", "timestamp"},
    "pptx": {"author", "device", "revision", "script", "timestamp"},
    "odt": {"attachment", "author", "device", "printer", "revision", "script", "thumbnail",
            "timestamp"},
    "ole": {"attachment", "author", "device", "printer", "revision", "script", "timestamp",
            "trailing_data"},
    "mp3": {"attachment", "author", "device", "serial", "thumbnail", "timestamp"},
    "m4a": {"author", "device", "gps", "revision", "serial", "thumbnail", "timestamp",
            "trailing_data"},
    "ogg": {"author", "device", "gps", "timestamp", "trailing_data"},
    "flac": {"author", "thumbnail", "timestamp"},
    "wav": {"author", "device", "serial", "timestamp", "trailing_data"},
    "mp4": {"author", "device", "gps", "revision", "serial", "timestamp", "trailing_data"},
    "zip": {"author", "device", "gps", "revision", "serial", "thumbnail", "timestamp",
            "trailing_data"},
}  # fmt: skip
RICH_KINDS["ods"] = RICH_KINDS["odp"] = RICH_KINDS["odt"]
RICH_KINDS["mov"] = RICH_KINDS["mp4"]


rich, plain = corpus.rich, corpus.plain


def details(report: FileReport, kind: str) -> list[str]:
    return [f.detail for f in report.findings if f.kind == kind]


def test_the_corpus_covers_every_type_and_every_kind() -> None:
    assert set(corpus.RICH) == set(corpus.PLAIN) == set(RICH_KINDS) == set(TYPES)
    assert set().union(*RICH_KINDS.values()) | {"printer"} == set(KINDS)


@pytest.mark.parametrize("type_", sorted(RICH_KINDS))
def test_a_rich_file_shows_what_it_carries(type_: str) -> None:
    report = inspect_bytes(rich(type_), f"file.{type_}")
    assert report.type == type_
    assert report.inspected
    assert RICH_KINDS[type_] <= report.kinds(), RICH_KINDS[type_] - report.kinds()


@pytest.mark.parametrize("type_", sorted(RICH_KINDS))
def test_a_plain_file_shows_nothing(type_: str) -> None:
    report = inspect_bytes(plain(type_), f"file.{type_}")
    assert report.type == type_
    assert report.inspected
    assert report.findings == ()


@pytest.mark.parametrize("type_", ["jpeg", "png", "webp", "heif", "mp4", "m4a"])
def test_the_author_is_named(type_: str) -> None:
    report = inspect_bytes(rich(type_), "f")
    assert any(corpus.AUTHOR in d for d in details(report, "author"))


def test_gps_coordinates_are_decoded() -> None:
    report = inspect_bytes(rich("jpeg"), "f")
    assert "EXIF GPS position: 52.520000, 13.405000" in details(report, "gps")
    assert "user data ©xyz: +52.5200+013.4050/" in details(inspect_bytes(rich("mov"), "f"), "gps")


def test_serials_and_time_zones_are_shown() -> None:
    report = inspect_bytes(rich("jpeg"), "f")
    assert f"EXIF body serial number: {corpus.SERIAL}" in details(report, "serial")
    assert "EXIF lens serial number: LENS-99" in details(report, "serial")
    assert "EXIF time zone when taken: +09:00" in details(report, "timestamp")
    assert any(corpus.SERIAL in d for d in details(inspect_bytes(rich("wav"), "f"), "serial"))


def test_thumbnails_in_exif_are_found() -> None:
    report = inspect_bytes(rich("jpeg"), "f")
    assert any("thumbnail" in d for d in details(report, "thumbnail"))
    without = io.BytesIO()
    corpus._picture().save(without, "JPEG", exif=corpus.camera_exif())
    assert "thumbnail" not in inspect_bytes(without.getvalue(), "f").kinds()


def test_trailing_bytes_are_counted_exactly() -> None:
    expected = f"{len(corpus.TRAILER)} bytes"
    for type_ in ("jpeg", "png", "gif", "webp", "pdf", "wav", "ogg", "ole", "mp4", "zip"):
        report = inspect_bytes(rich(type_), "f")
        found = details(report, "trailing_data")
        assert any(d.startswith(expected) for d in found), (type_, found)


def test_pdf_earlier_revisions_and_their_authors_are_found() -> None:
    report = inspect_bytes(rich("pdf"), "f")
    assert "1 earlier revision(s) kept by incremental updates" in details(report, "revision")
    assert "document information Author: Bob Editor" in details(report, "author")
    assert f"earlier document information Author: {corpus.AUTHOR}" in details(report, "author")
    assert "earlier document information Creator names a user folder: C:/Users/alice" in details(
        report, "author"
    )
    # Negative: the same file before the update has no earlier revision.
    before = inspect_bytes(corpus.pdf_before_update(), "f")
    assert not any("earlier revision" in d for d in details(before, "revision"))


def test_pdf_comments_attachments_scripts_and_embedded_images() -> None:
    report = inspect_bytes(rich("pdf"), "f")
    assert "page 1 text annotation (a comment): check the dates with Bob" in details(
        report, "revision"
    )
    assert "page 1 highlight annotation author: Bob Reviewer" in details(report, "author")
    assert "embedded file: notes.txt" in details(report, "attachment")
    assert "JavaScript" in details(report, "script")
    assert "page thumbnail image" in details(report, "thumbnail")
    assert "embedded image 1: EXIF GPS position: 52.520000, 13.405000" in details(report, "gps")


def test_pdf_file_identifier_is_a_serial_unless_it_is_qpdf_fixed_one() -> None:
    report = inspect_bytes(corpus.pdf_before_update(), "f")
    assert any(d.startswith("file identifier") for d in details(report, "serial"))
    assert inspect_bytes(plain("pdf"), "f").findings == ()  # saved with qpdf's fixed /ID


def test_office_tracked_changes_comments_and_printer() -> None:
    report = inspect_bytes(rich("docx"), "f")
    assert "tracked changes (word/document.xml): 2 change mark(s)" in details(report, "revision")
    assert "comment author: Carol Commenter" in details(report, "author")
    assert "printer settings: HP LaserJet M607 Floor 3" in details(report, "printer")
    assert "macros or ActiveX controls: word/vbaProject.bin" in details(report, "script")
    assert "application property Template names a user folder: C:/Users/alice" in details(
        report, "author"
    )
    xlsx = inspect_bytes(rich("xlsx"), "f")
    assert any("Users\\alice" in d for d in details(xlsx, "author"))
    odt = inspect_bytes(rich("odt"), "f")
    assert "printer: HP LaserJet M607 Floor 3" in details(odt, "printer")
    assert "an earlier version stored in the file: Versions/Version1" in details(odt, "revision")


def test_legacy_office_says_what_it_did_not_read() -> None:
    report = inspect_bytes(rich("ole"), "f")
    assert "the changed text itself, and comments in Excel and PowerPoint" in report.note
    assert "document property author: Alice Example" in details(report, "author")


def test_word_comments_revision_authors_and_printer_from_the_fib() -> None:
    report = inspect_bytes(rich("ole"), "f")
    assert "Word comments: 1" in details(report, "revision")
    assert "Word comment author: Carol Commenter" in details(report, "author")
    assert f"Word tracked changes or comments by: {corpus.AUTHOR}" in details(report, "revision")
    assert "Word revision author: Bob Editor" in details(report, "author")
    assert "Word printer driver settings: HP LaserJet M607" in details(report, "printer")
    # Negatives: the same FIB pointing at nothing (the plain file); a FIB that says it has no
    # (fc, lcb) pairs, or whose pairs point past the table, gives no Word findings, no error.
    assert inspect_bytes(plain("ole"), "f").findings == ()
    fib = rich("ole").index(b"\xec\xa5\xc1\x00")
    for at, value in ((fib + 152, b"\x00\x00"), (fib + 154 + 8 * 4 + 4, b"\xff\xff\xff\x7f")):
        damaged = bytearray(rich("ole"))
        damaged[at : at + len(value)] = value
        found = inspect_bytes(bytes(damaged), "f")
        assert "Word comments: 1" not in details(found, "revision")
        assert found.inspected


def test_zip_members_are_inspected_and_unknown_ones_named() -> None:
    report = inspect_bytes(rich("zip"), "f")
    assert "photos/IMG_0001.jpg: EXIF GPS position: 52.520000, 13.405000" in details(report, "gps")
    assert "zip archive comment: packed by alice on WS-0042" in details(report, "author")
    assert "zip precise member times (photos/IMG_0001.jpg)" in details(report, "timestamp")
    assert "zip member path names a user folder: /Users/alice" in details(report, "author")
    assert "readme.txt" in report.note
    assert report.to_json()["note"] == report.note


def _page_with_dots(dots: bool) -> Image.Image:
    return (
        Image.open(io.BytesIO(corpus.dotted_scan()))
        if dots
        else Image.new("RGB", (600, 400), "white")
    )


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_printer_tracking_dots_in_a_scan() -> None:
    assert "printer" in inspect_bytes(corpus.dotted_scan(), "scan.png").kinds()
    # Negatives: a white page, and a picture with large yellow areas (not dots).
    assert inspect_bytes(_png(_page_with_dots(False)), "f").findings == ()
    sunny = Image.new("RGB", (600, 400), "white")
    draw = ImageDraw.Draw(sunny)
    for x in range(0, 600, 120):
        draw.rectangle((x, 100, x + 60, 300), fill=(250, 240, 120))
    assert "printer" not in inspect_bytes(_png(sunny), "f").kinds()


def test_a_timed_metadata_track_counts_as_gps() -> None:
    report = inspect_bytes(corpus.telemetry_mp4(), "GOPR0001.MP4")
    assert any("timed metadata track (meta" in d for d in details(report, "gps"))


def test_types_come_from_content_not_names() -> None:
    assert detect_type(rich("jpeg"), "report.pdf") == "jpeg"
    assert detect_type(rich("docx"), "photo.jpg") == "docx"
    assert detect_type(rich("ods"), "x.zip") == "ods"
    assert detect_type(b"%PDF-1.7\n" + b"x" * 10, "a.txt") == "pdf"
    assert detect_type(b"hello world", "photo.jpg") == "unknown"
    assert detect_type(b"", "") == "unknown"
    id3_then_flac = b"ID3\x04\x00\x00\x00\x00\x00\x00" + plain("flac")
    assert detect_type(id3_then_flac, "") == "flac"


def test_unknown_types_are_not_inspected_rather_than_clean() -> None:
    report = inspect_bytes(b"just some text\n", "notes.txt")
    assert report.inspected is False
    assert report.to_json() == {
        "file": "notes.txt",
        "type": "unknown",
        "findings": [],
        "inspected": False,
        "note": "not inspected",
    }


def test_the_report_json_shape() -> None:
    report = inspect_bytes(rich("gif"), "a.gif")
    shaped = report.to_json()
    assert set(shaped) == {"file", "type", "findings"}
    assert shaped["file"] == "a.gif"
    assert shaped["type"] == "gif"
    assert shaped["findings"] == [
        {"kind": "author", "detail": "GIF text 'comment': by Alice Example"},
        {
            "kind": "trailing_data",
            "detail": f"{len(corpus.TRAILER)} bytes after the end of the image",
        },
    ]
    with pytest.raises(ValueError, match="unknown finding kind"):
        Finding("colour", "red")


def test_damaged_files_raise_only_document_errors() -> None:
    for type_ in ("jpeg", "pdf", "docx", "ole", "mp3", "mp4", "wav"):
        data = rich(type_)
        for cut in (len(data) // 3, 40):
            with contextlib.suppress(DocumentError):
                inspect_bytes(data[:cut], "f")
    with pytest.raises(UnreadableDocument):
        inspect_bytes(b"%PDF-1.4\nnot really", "f")


def test_the_docs_list_exactly_these_kinds() -> None:
    spec = (DOCS / "spec" / "inspect-report.md").read_text(encoding="utf-8")
    spec = spec.split("## Kinds", 1)[1]
    listed = re.findall(r"^\| `(\w+)` \|", spec, re.MULTILINE)
    assert listed == list(KINDS)
    guide = (DOCS / "documents.md").read_text(encoding="utf-8")
    for kind in KINDS:
        assert f"`{kind}`" in guide


def test_iso6709_positions_are_decoded() -> None:
    assert "user data ©xyz position: 52.520000, 13.405000" in details(
        inspect_bytes(rich("mov"), "f"), "gps"
    )
    assert iso6709("+52.5200+013.4050+034.000/") == "52.520000, 13.405000, altitude 34.0 m"
    assert iso6709("-3330-07045/") == "-33.500000, -70.750000"  # degrees and minutes
    assert iso6709("+523112.5+0132436.0CRSWGS_84/") == "52.520139, 13.410000"
    # Negatives: not a position, and a latitude past the pole.
    assert iso6709("Alice's phone") is None
    assert iso6709("+91.0000+013.4050/") is None


def test_printer_dots_in_images_inside_a_pdf() -> None:
    dotted = corpus.pdf_of_picture(corpus.dotted_scan())
    assert f"embedded image 1: {DOTS}" in details(inspect_bytes(dotted, "f"), "printer")
    assert "printer" not in inspect_bytes(corpus.pdf_of_picture(corpus.white_page()), "f").kinds()
    # A flattened copy paints the dots over; a same-format copy cannot, and says so.
    flat = sanitize_bytes(dotted, "scan.pdf", flatten=True)
    assert "printer" not in inspect_bytes(flat.data, "f").kinds()
    with pytest.raises(NotSanitisable, match="printer"):
        sanitize_bytes(dotted, "scan.pdf")


def test_trailing_data_after_a_tiff_or_an_mp3() -> None:
    expected = f"{len(corpus.TRAILER)} bytes"
    for type_ in ("tiff", "mp3"):
        report = inspect_bytes(plain(type_) + corpus.TRAILER, "f")
        assert any(d.startswith(expected) for d in details(report, "trailing_data")), type_
        copy = sanitize_bytes(plain(type_) + corpus.TRAILER, f"f.{type_}")
        assert corpus.TRAILER not in copy.data
    # Negatives: a multi-page TIFF's alignment, an MP3's ID3v1 tag at its end.
    assert "trailing_data" not in inspect_bytes(corpus.two_page_tiff(), "f").kinds()
    assert "trailing_data" not in inspect_bytes(corpus.mp3_with_id3v1(), "f").kinds()


def test_a_heif_thumbnail_is_found_and_not_copied() -> None:
    with_thumbnail = corpus.heif_with_thumbnail()
    report = inspect_bytes(with_thumbnail, "IMG_0001.HEIC")
    assert report.type == "heif"
    assert "HEIF thumbnail image (may show the uncropped original)" in details(report, "thumbnail")
    # Negatives: a HEIF without one (the rich corpus file), and the sanitised copy.
    assert "thumbnail" not in inspect_bytes(rich("heif"), "f").kinds()
    copy = sanitize_bytes(with_thumbnail, "IMG_0001.HEIC")
    assert "thumbnail" not in inspect_bytes(copy.data, "f").kinds()
