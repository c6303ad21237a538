"""Sanitised copies: for every type, inspecting the copy finds nothing, the copy is still a
file of that type with the same content, and the original is untouched; flattened copies of
PDFs and images; refusals say why."""

from __future__ import annotations

import io
import posixpath
import re
import wave
import zipfile
from functools import cache

import mutagen
import mutagen.mp4
import pikepdf
import pytest
from PIL import Image, ImageChops, ImageFilter

from mailslot.documents import dots
from mailslot.documents.detect import TYPES, detect_type
from mailslot.documents.errors import NotSanitisable
from mailslot.documents.inspect import inspect_bytes
from mailslot.documents.sanitize import SanitizedCopy, sanitize_bytes
from tests.unit import documents_corpus as corpus

pytestmark = pytest.mark.no_database

SANITISABLE = sorted(set(TYPES) - {"ole"})


rich = corpus.rich


@cache
def clean(type_: str) -> SanitizedCopy:
    return sanitize_bytes(rich(type_), f"evidence.{type_}")


@pytest.mark.parametrize("type_", SANITISABLE)
def test_sanitise_then_inspect_finds_nothing(type_: str) -> None:
    original = rich(type_)
    before = bytes(original)
    copy = clean(type_)
    assert original == before
    assert inspect_bytes(original, "x").findings  # positive control: there was something
    report = inspect_bytes(copy.data, copy.name)
    assert report.type == type_
    assert report.findings == ()
    assert detect_type(copy.data, "") == type_


@pytest.mark.parametrize("type_", SANITISABLE)
def test_a_plain_file_survives_sanitising(type_: str) -> None:
    copy = sanitize_bytes(corpus.plain(type_), f"p.{type_}")
    assert inspect_bytes(copy.data, copy.name).findings == ()


def test_copy_names_and_media_types() -> None:
    assert clean("jpeg").name == "evidence-clean.jpg"
    assert clean("jpeg").media_type == "image/jpeg"
    assert clean("docx").media_type.endswith("wordprocessingml.document")
    flat = sanitize_bytes(rich("pdf"), "C:\\Users\\alice\\leak.pdf", flatten=True)
    assert flat.name == "leak-clean.pdf"


@pytest.mark.parametrize("type_", ["jpeg", "png", "gif", "webp", "tiff", "heif"])
def test_images_keep_their_pixels(type_: str) -> None:
    before = Image.open(io.BytesIO(rich(type_))).convert("RGB")
    after = Image.open(io.BytesIO(clean(type_).data)).convert("RGB")
    assert after.size == before.size
    worst = max(high for _low, high in ImageChops.difference(before, after).getextrema())
    assert worst <= (0 if type_ in ("png", "gif", "tiff") else 40)


def test_animation_frames_and_timing_are_kept() -> None:
    after = Image.open(io.BytesIO(clean("gif").data))
    assert after.n_frames == 2
    after.seek(1)
    assert after.info["duration"] == 200


def test_photos_are_turned_upright_before_the_orientation_tag_goes() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = io.BytesIO()
    Image.new("RGB", (40, 20), "red").save(out, "JPEG", exif=exif)
    copy = sanitize_bytes(out.getvalue(), "p.jpg")
    assert Image.open(io.BytesIO(copy.data)).size == (20, 40)


def test_tracking_dots_are_removed() -> None:
    scan = corpus.dotted_scan()
    assert "printer" in inspect_bytes(scan, "s").kinds()
    copy = sanitize_bytes(scan, "scan.png")
    assert inspect_bytes(copy.data, "s").findings == ()
    pixels = Image.open(io.BytesIO(copy.data)).convert("RGB")
    assert pixels.getpixel((20, 20)) == (255, 255, 255)  # was a yellow dot
    text = pixels.crop((40, 38, 240, 54)).convert("L")
    assert text.getextrema()[0] < 100  # the text is still there


def test_tracking_dots_enlarged_by_rendering_are_removed_too() -> None:
    """A scan drawn larger than its pixels (a PDF page rendered at 150 dpi) smears each dot
    over a few pixels; some then read as an area until their neighbours are painted over."""
    scan = Image.open(io.BytesIO(corpus.dotted_scan())).convert("RGB")
    enlarged = scan.crop((0, 0, 300, 200)).resize((625, 417), Image.Resampling.BILINEAR)
    mask = dots.dot_mask(enlarged)
    assert mask is not None
    once = Image.composite(enlarged.filter(ImageFilter.MedianFilter(7)), enlarged, mask)
    assert dots.dot_mask(once) is not None  # one pass leaves some (positive control)
    assert dots.dot_mask(dots.remove_dots(enlarged)) is None


def _xml(data: bytes, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name).decode("utf-8")


def test_word_changes_are_accepted_and_the_rest_removed() -> None:
    data = clean("docx").data
    document = _xml(data, "word/document.xml")
    kept, inserted, deleted = corpus.DOCX_TEXT
    assert kept in document
    assert inserted in document
    assert deleted not in document
    assert "commentReference" not in document
    assert "rsid" not in document
    assert "OLEObject" not in document
    assert 'mc:Ignorable="w14"' in document  # prefixes kept, so Word still opens it
    assert 'xmlns:w14="' in document
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())
    assert "word/comments.xml" not in names
    assert "word/vbaProject.bin" not in names
    assert not any(n.startswith(("customXml/", "word/embeddings/")) for n in names)
    types = _xml(data, "[Content_Types].xml")
    assert "macroEnabled" not in types
    assert "/word/comments.xml" not in types


@pytest.mark.parametrize("type_", ["docx", "xlsx", "pptx"])
def test_every_relationship_left_points_to_a_part(type_: str) -> None:
    data = clean(type_).data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        for rels in (n for n in names if n.endswith(".rels")):
            base = posixpath.dirname(posixpath.dirname(rels))
            text = archive.read(rels).decode("utf-8")
            for target, mode in re.findall(r'Target="([^"]*)"(?: TargetMode="(\w+)")?', text):
                if mode != "External":
                    assert posixpath.normpath(posixpath.join(base, target)) in names, target


def test_spreadsheet_cells_stay_and_saved_paths_go() -> None:
    data = clean("xlsx").data
    assert "42 crates" in _xml(data, "xl/worksheets/sheet1.xml")
    assert "absPath" not in _xml(data, "xl/workbook.xml")


def test_opendocument_text_is_kept_without_changes_or_comments() -> None:
    data = clean("odt").data
    content = _xml(data, "content.xml")
    assert "Kept text." in content
    assert " More text." in content
    assert "Deleted words." not in content
    assert "annotation" not in content
    assert "draw:image" in content
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        first = archive.infolist()[0]
        assert first.filename == "mimetype"
        assert first.compress_type == zipfile.ZIP_STORED
        names = set(archive.namelist())
    manifest = _xml(data, "META-INF/manifest.xml")
    assert "Thumbnails/thumbnail.png" not in manifest
    assert "Versions/Version1" not in names


def test_pdf_pages_stay_and_the_rest_goes() -> None:
    data = clean("pdf").data
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 1
        assert "/Info" not in pdf.trailer
        assert "/Im0" in pdf.pages[0].Resources.XObject
        assert "/OpenAction" not in pdf.Root
        assert len(pdf.attachments) == 0
        subtypes = [str(a.Subtype) for a in pdf.pages[0].get("/Annots", [])]
        assert subtypes == ["/Highlight"]  # the mark stays; its author and the note go
    assert data.count(b"%%EOF") == 1


@pytest.mark.parametrize("greyscale", [False, True])
def test_flattened_pdfs_are_pictures_of_their_pages(greyscale: bool) -> None:
    copy = sanitize_bytes(rich("pdf"), "a.pdf", flatten=True, greyscale=greyscale)
    assert copy.media_type == "application/pdf"
    assert inspect_bytes(copy.data, "f").findings == ()
    with pikepdf.open(io.BytesIO(copy.data)) as pdf:
        assert len(pdf.pages) == 1
        images = list(pdf.pages[0].Resources.XObject.values())
        assert len(images) == 1
        assert images[0].ColorSpace == ("/DeviceGray" if greyscale else "/DeviceRGB")
        assert "/Annots" not in pdf.pages[0]


def test_flattened_images_are_pngs() -> None:
    copy = sanitize_bytes(rich("heif"), "IMG_0001.HEIC", flatten=True, greyscale=True)
    assert copy.name == "IMG_0001-clean.png"
    assert copy.media_type == "image/png"
    image = Image.open(io.BytesIO(copy.data))
    assert (image.format, image.mode, image.size) == ("PNG", "L", (64, 48))
    assert inspect_bytes(copy.data, "f").findings == ()


def test_audio_and_video_keep_their_streams() -> None:
    with (
        wave.open(io.BytesIO(rich("wav"))) as wav_before,
        wave.open(io.BytesIO(clean("wav").data)) as wav_after,
    ):
        assert wav_after.readframes(10_000) == wav_before.readframes(10_000)
    for type_ in ("mp3", "flac", "ogg", "m4a"):
        before = mutagen.File(io.BytesIO(rich(type_)))
        after = mutagen.File(io.BytesIO(clean(type_).data))
        assert after is not None, type_
        assert after.info.length == pytest.approx(before.info.length), type_
    for type_ in ("mp4", "mov", "m4a"):
        before_data, after_data = rich(type_), clean(type_).data
        assert len(after_data) == len(before_data) - len(corpus.TRAILER)
        mdat = before_data.index(b"mdat")
        assert after_data[mdat : mdat + 72] == before_data[mdat : mdat + 72]


def test_zip_members_are_cleaned_and_kept() -> None:
    data = clean("zip").data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["photos/IMG_0001.jpg", "readme.txt", "notes.md"]
        assert archive.read("readme.txt") == b"just text"
        assert archive.comment == b""
        photo = archive.read("photos/IMG_0001.jpg")
    assert inspect_bytes(photo, "p").findings == ()


@pytest.mark.parametrize(
    ("data", "options", "message"),
    [
        (lambda: rich("ole"), {}, "legacy Office files"),
        (lambda: b"plain text", {}, "unknown type"),
        (lambda: rich("docx"), {"flatten": True}, "office files are flattened only where"),
        (lambda: rich("mp3"), {"flatten": True}, "only PDFs, images and office files can be"),
        (lambda: rich("jpeg"), {"greyscale": True}, "flattened copies only"),
        (corpus.telemetry_mp4, {}, "timed metadata track"),
    ],
)
def test_refusals_say_why(data: object, options: dict[str, bool], message: str) -> None:
    with pytest.raises(NotSanitisable, match=message):
        sanitize_bytes(data(), "f", **options)  # type: ignore[operator]


def test_a_spreadsheet_with_embedded_objects_is_refused() -> None:
    data = rich("xlsx")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr("xl/embeddings/oleObject1.bin", b"\xd0\xcf\x11\xe0")
    with pytest.raises(NotSanitisable, match="embedded objects"):
        sanitize_bytes(out.getvalue(), "f.xlsx")
