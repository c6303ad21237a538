"""Test files with known metadata, generated here so that every byte is accounted for.

``rich(type)`` returns a file of that type carrying as many of the finding kinds as the
format can hold; ``plain(type)`` a file of the same type that carries none of them. The
expected kinds of each rich file are in ``RICH_KINDS``. Nothing is read from disk.
"""

from __future__ import annotations

import io
import re
import struct
import wave
import zipfile
import zlib
from collections.abc import Iterator
from functools import cache
from typing import Final

import mutagen.flac
import mutagen.id3
import mutagen.mp3
import mutagen.mp4
import mutagen.ogg
import mutagen.oggopus
import pikepdf
import pillow_heif
from PIL import Image, ImageCms, ImageDraw, PngImagePlugin
from PIL.ExifTags import IFD

pillow_heif.register_heif_opener()

AUTHOR: Final = "Alice Example"
SERIAL: Final = "SN-4242-7788"
LATITUDE: Final = 52.52
LONGITUDE: Final = 13.405
TRAILER: Final = b"RED-STAR-ID:0f3c9a77e1b24d00"
XMP: Final = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    b'syntax-ns#"><rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" '
    b'xmlns:aux="http://ns.adobe.com/exif/1.0/aux/" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'xmp:CreatorTool="PhotoTool 9" xmp:CreateDate="2024-03-01T10:11:12+09:00" '
    b'xmpMM:DocumentID="xmp.did:1234" aux:SerialNumber="SN-4242-7788" '
    b'exif:GPSLatitude="52,31.2N" exif:GPSLongitude="13,24.3E">'
    b"<dc:creator><rdf:Seq><rdf:li>Alice Example</rdf:li></rdf:Seq></dc:creator>"
    b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    b'<?xpacket end="w"?>'
)


# -- images ---------------------------------------------------------------------------------


def _picture(size: tuple[int, int] = (64, 48)) -> Image.Image:
    image = Image.new("RGB", size, (240, 240, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((8, 8, 40, 30), fill=(200, 30, 30))
    draw.ellipse((30, 20, 60, 44), fill=(30, 60, 200))
    return image


def _rational(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (float(degrees), float(minutes), seconds)


def camera_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 5D Mark IV"
    exif[0x0131] = "Firmware 1.0.4"
    exif[0x0132] = "2024:03:01 10:11:12"
    exif[0x013B] = AUTHOR
    sub = exif.get_ifd(IFD.Exif)
    sub[0x9003] = "2024:03:01 10:11:12"
    sub[0x9011] = "+09:00"
    sub[0xA431] = SERIAL
    sub[0xA435] = "LENS-99"
    sub[0xA430] = AUTHOR
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[1] = "N"
    gps[2] = _rational(LATITUDE)
    gps[3] = "E"
    gps[4] = _rational(LONGITUDE)
    return exif


def exif_with_thumbnail() -> bytes:
    """EXIF bytes (with the "Exif" prefix) whose IFD0 links to an IFD1 thumbnail, which
    Pillow reads but does not write."""
    raw = bytearray(camera_exif().tobytes())
    tiff = raw[6:]
    order = "<" if tiff[:2] == b"II" else ">"
    count = struct.unpack_from(order + "H", tiff, 8)[0]
    next_pointer = 8 + 2 + 12 * count
    thumb = io.BytesIO()
    _picture((16, 12)).save(thumb, "JPEG")
    ifd1_at = len(tiff)
    data_at = ifd1_at + 2 + 2 * 12 + 4
    ifd1 = struct.pack(order + "H", 2)
    ifd1 += struct.pack(order + "HHII", 0x0201, 4, 1, data_at)
    ifd1 += struct.pack(order + "HHII", 0x0202, 4, 1, len(thumb.getvalue()))
    ifd1 += struct.pack(order + "I", 0)
    struct.pack_into(order + "I", tiff, next_pointer, ifd1_at)
    return b"Exif\x00\x00" + bytes(tiff) + ifd1 + thumb.getvalue()


def _iptc_segment() -> bytes:
    records = b""
    for number, value in ((80, AUTHOR.encode()), (90, b"Berlin"), (55, b"20240301")):
        records += b"\x1c\x02" + bytes([number]) + struct.pack(">H", len(value)) + value
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(records))
    resource += records + (b"\x00" if len(records) % 2 else b"")
    payload = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


def device_icc() -> bytes:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return profile.tobytes()


def rich_jpeg() -> bytes:
    out = io.BytesIO()
    _picture().save(
        out, "JPEG", exif=exif_with_thumbnail(), comment=b"shot by Alice", xmp=XMP,
        icc_profile=device_icc(),
    )  # fmt: skip
    data = out.getvalue()
    # IPTC goes right after SOI and APP0.
    app0_end = 2 + 2 + struct.unpack(">H", data[4:6])[0]
    return data[:app0_end] + _iptc_segment() + data[app0_end:] + TRAILER


def rich_png() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", AUTHOR)
    info.add_text("Software", "Scanner Suite 3")
    info.add_text("Creation Time", "2024-03-01T10:11:12+09:00")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode("utf-8"))
    out = io.BytesIO()
    _picture().save(out, "PNG", pnginfo=info, exif=camera_exif())
    return out.getvalue() + TRAILER


def rich_gif() -> bytes:
    frames = [_picture(), _picture().rotate(180)]
    out = io.BytesIO()
    frames[0].save(
        out, "GIF", save_all=True, append_images=frames[1:], comment=b"by Alice Example",
        duration=[100, 200], loop=0,
    )  # fmt: skip
    return out.getvalue() + TRAILER


def rich_webp() -> bytes:
    out = io.BytesIO()
    _picture().save(out, "WEBP", exif=camera_exif(), xmp=XMP, icc_profile=device_icc())
    return out.getvalue() + TRAILER


def rich_tiff() -> bytes:
    out = io.BytesIO()
    exif = camera_exif()
    info = {0x010F: "Canon", 0x0110: "Canon EOS 5D", 0x013B: AUTHOR, 0x0132: "2024:03:01 10:11:12"}
    tiffinfo = dict(info)
    tiffinfo[700] = XMP
    _picture().save(out, "TIFF", tiffinfo=tiffinfo, exif=exif, compression="tiff_lzw")
    return out.getvalue()


def rich_heif() -> bytes:
    out = io.BytesIO()
    _picture().save(out, "HEIF", exif=camera_exif().tobytes(), xmp=XMP, quality=90)
    return out.getvalue()


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    while start < end:
        size, tag = struct.unpack_from(">I4s", data, start)
        yield tag, start, size
        start += size


def heif_with_thumbnail() -> bytes:
    """A HEIF whose second image is the first one's thumbnail (a ``thmb`` item reference, as
    phones write): pillow-heif writes two images, and an ``iref`` box is added to ``meta``,
    the image data's offsets in ``iloc`` moved along by its size."""
    out = io.BytesIO()
    thumbnail = Image.new("RGB", (32, 24), (200, 30, 30))
    _picture().save(out, "HEIF", save_all=True, append_images=[thumbnail], quality=80)
    data = bytearray(out.getvalue())
    iref = struct.pack(">I4sI", 26, b"iref", 0) + struct.pack(">I4sHHH", 14, b"thmb", 2, 1, 1)
    meta, meta_size = next((at, size) for t, at, size in _boxes(data, 0, len(data)) if t == b"meta")
    for tag, at, _size in _boxes(data, meta + 12, meta + meta_size):
        if tag == b"iloc":
            version, sizes, base_sizes = data[at + 8], data[at + 12], data[at + 13]
            base = base_sizes >> 4  # item ids, base offsets (left as they are) and extents
            assert (version, sizes, base in (0, 4)) == (0, 0x44, True), "iloc not handled"
            count, cursor = struct.unpack_from(">H", data, at + 14)[0], at + 16
            for _ in range(count):
                extents = struct.unpack_from(">H", data, cursor + 4 + base)[0]
                cursor += 6 + base
                for _ in range(extents):
                    offset = struct.unpack_from(">I", data, cursor)[0]
                    struct.pack_into(">I", data, cursor, offset + len(iref))
                    cursor += 8
    struct.pack_into(">I", data, meta, meta_size + len(iref))
    end = meta + meta_size
    return bytes(data[:end]) + iref + bytes(data[end:])


def dotted_scan() -> bytes:
    """A white page with text and a faint yellow dot grid, as a colour scan shows it."""
    image = Image.new("RGB", (600, 400), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.text((40, 40), "Internal memo: do not forward", fill=(0, 0, 0))
    for x in range(20, 600, 32):
        for y in range(20, 400, 32):
            if (x * 7 + y * 3) % 5:
                draw.rectangle((x, y, x + 1, y + 1), fill=(255, 255, 160))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def plain_image(type_: str) -> bytes:
    out = io.BytesIO()
    fmt = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP", "tiff": "TIFF",
           "heif": "HEIF"}[type_]  # fmt: skip
    _picture().save(out, fmt)
    return out.getvalue()


# -- PDF ------------------------------------------------------------------------------------


def _jpeg_with_exif() -> bytes:
    out = io.BytesIO()
    _picture().save(out, "JPEG", exif=camera_exif())
    return out.getvalue()


def plain_pdf() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    out = io.BytesIO()
    pdf.save(out, static_id=True)
    return out.getvalue()


def pdf_pages(count: int) -> bytes:
    """A PDF of ``count`` A4 pages with a line of Helvetica on each."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    for number in range(1, count + 1):
        page = pdf.add_blank_page(page_size=(595, 842))
        page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page.Contents = pdf.make_stream(f"BT /F1 24 Tf 72 700 Td (Page {number}) Tj ET".encode())
    out = io.BytesIO()
    pdf.save(out, static_id=True)
    return out.getvalue()


def pdf_of_picture(picture: bytes) -> bytes:
    """A one-page PDF showing ``picture`` as a losslessly compressed image (as a scanner's
    software writes a scan: Flate, not JPEG)."""
    image = Image.open(io.BytesIO(picture)).convert("RGB")
    pdf = pikepdf.new()
    stream = pikepdf.Stream(pdf, zlib.compress(image.tobytes()))
    stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    stream.Width, stream.Height = image.size
    stream.BitsPerComponent, stream.ColorSpace = 8, pikepdf.Name.DeviceRGB
    stream.Filter = pikepdf.Name.FlateDecode
    width, height = (side * 72 / 150 for side in image.size)  # scanned at 150 dpi
    page = pdf.add_blank_page(page_size=(width, height))
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=stream))
    page.Contents = pdf.make_stream(f"q {width} 0 0 {height} 0 0 cm /Im0 Do Q".encode())
    out = io.BytesIO()
    pdf.save(out, static_id=True)
    return out.getvalue()


def white_page() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (600, 400), "white").save(out, "PNG")
    return out.getvalue()


def two_page_tiff() -> bytes:
    """A multi-page TIFF as Pillow writes it (each page aligned to 16 bytes: not trailing)."""
    out = io.BytesIO()
    first, second = Image.new("RGB", (300, 200), "red"), Image.new("RGB", (30, 20), "blue")
    first.save(out, "TIFF", compression="tiff_lzw", save_all=True, append_images=[second])
    return out.getvalue()


def mp3_with_id3v1() -> bytes:
    """An MP3 with an ID3v1 tag at its end, which is part of the format, not trailing data."""
    return _mp3_frames() + b"TAG" + b"\x00" * 125


def pdf_before_update() -> bytes:
    """Info, XMP, an attachment, JavaScript, a comment by Alice, a page thumbnail, PieceInfo
    and a JPEG with EXIF; written without object streams so an update can be appended."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    page = pdf.pages[0]
    pdf.docinfo["/Author"] = AUTHOR
    pdf.docinfo["/Creator"] = "Writer 7 on C:\\Users\\alice\\Documents"
    pdf.docinfo["/Producer"] = "PDF Maker 2"
    pdf.docinfo["/CreationDate"] = "D:20240301101112+09'00'"
    pdf.Root.Metadata = pdf.make_stream(XMP, Type=pikepdf.Name.Metadata, Subtype=pikepdf.Name.XML)
    pdf.attachments["notes.txt"] = pikepdf.AttachedFileSpec(pdf, b"the real source list")
    js = pdf.make_indirect(
        pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
    )
    pdf.Root.OpenAction = js
    note = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Text, Rect=[10, 10, 30, 30],
        T=pikepdf.String(AUTHOR), M=pikepdf.String("D:20240302090000Z"),
        Contents=pikepdf.String("check the dates with Bob"),
    )  # fmt: skip
    highlight = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Highlight, Rect=[40, 40, 90, 50],
        QuadPoints=[40, 50, 90, 50, 40, 40, 90, 40], T=pikepdf.String("Bob Reviewer"),
    )  # fmt: skip
    page.obj.Annots = pdf.make_indirect(
        pikepdf.Array([pdf.make_indirect(note), pdf.make_indirect(highlight)])
    )
    thumb = pdf.make_stream(b"\x00" * 12, Width=2, Height=2, ColorSpace=pikepdf.Name.DeviceRGB,
                            BitsPerComponent=8)  # fmt: skip
    page.obj.Thumb = thumb
    page.obj.PieceInfo = pikepdf.Dictionary(Illustrator=pikepdf.Dictionary(Private=1))
    image = pdf.make_stream(
        _jpeg_with_exif(), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=64,
        Height=48, ColorSpace=pikepdf.Name.DeviceRGB, BitsPerComponent=8,
        Filter=pikepdf.Name.DCTDecode,
    )  # fmt: skip
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.obj.Contents = pdf.make_stream(b"q 64 0 0 48 20 20 cm /Im0 Do Q")
    out = io.BytesIO()
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    return out.getvalue()


def incremental_update(base: bytes, info: str) -> bytes:
    """An incremental update that replaces the Info dictionary: the earlier one stays in the
    file, as it does when a PDF is edited and saved by many programs."""
    startxref = int(base[base.rindex(b"startxref") + 9 :].split()[0])
    trailer = base[base.rindex(b"trailer") :]
    size = int(re.search(rb"/Size (\d+)", trailer).group(1))  # type: ignore[union-attr]
    root = re.search(rb"/Root (\d+) (\d+) R", trailer).groups()  # type: ignore[union-attr]
    body = base if base.endswith(b"\n") else base + b"\n"
    offset = len(body)
    obj = f"{size} 0 obj\n<< /Author ({info}) /ModDate (D:20240305120000Z) >>\nendobj\n".encode()
    xref_at = offset + len(obj)
    xref = f"xref\n0 1\n0000000000 65535 f \n{size} 1\n{offset:010d} 00000 n \n".encode()
    tail = (
        f"trailer\n<< /Size {size + 1} /Root {int(root[0])} {int(root[1])} R /Info {size} 0 R "
        f"/Prev {startxref} >>\nstartxref\n{xref_at}\n%%EOF\n"
    ).encode()
    return body + obj + xref + tail


def rich_pdf() -> bytes:
    return incremental_update(pdf_before_update(), "Bob Editor") + TRAILER


# -- office files ---------------------------------------------------------------------------

_WNS: Final = (
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
    'xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:v="urn:schemas-microsoft-com:vml" '
    'xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'mc:Ignorable="w14"'
)
_REL: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL: Final = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT: Final = "http://schemas.openxmlformats.org/package/2006/content-types"
CORE_XML: Final = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.'
    'org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    f"<dc:creator>{AUTHOR}</dc:creator><cp:lastModifiedBy>Bob Editor</cp:lastModifiedBy>"
    "<cp:revision>7</cp:revision>"
    '<dcterms:created xsi:type="dcterms:W3CDTF">2024-03-01T10:11:12Z</dcterms:created>'
    "</cp:coreProperties>"
)
APP_XML: Final = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-'
    'properties"><Application>Microsoft Office Word</Application><Company>Example Ministry'
    "</Company><TotalTime>42</TotalTime>"
    "<Template>C:\\Users\\alice\\AppData\\Roaming\\Microsoft\\Templates\\Normal.dotm</Template>"
    "</Properties>"
)
CUSTOM_XML: Final = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-'
    'properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="ClassifiedBy">'
    "<vt:lpwstr>alice@example.org</vt:lpwstr></property></Properties>"
)
DEVMODE: Final = "HP LaserJet M607 Floor 3".encode("utf-16-le").ljust(64, b"\x00") + bytes(156)
TEMPLATE: Final = "file:///C:\\Users\\alice\\AppData\\Roaming\\Microsoft\\Templates\\Memo.dotm"
DOCX_TEXT: Final = ("Kept text.", "Inserted words.", "Deleted words.")


def _zip(members: dict[str, bytes | str], dated: bool = True) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            when = (2024, 3, 1, 10, 11, 12) if dated else (1980, 1, 1, 0, 0, 0)
            info = zipfile.ZipInfo(name, when)
            info.compress_type = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return out.getvalue()


def _content_types(overrides: dict[str, str]) -> str:
    parts = "".join(
        f'<Override PartName="/{name}" ContentType="{kind}"/>' for name, kind in overrides.items()
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="{_CT}">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Default Extension="jpeg" ContentType="image/jpeg"/>'
        '<Default Extension="bin" ContentType="application/vnd.openxmlformats-'
        f'officedocument.oleObject"/>{parts}</Types>'
    )


def _rels(
    items: list[tuple[str, str, str]], external: tuple[tuple[str, str, str], ...] = ()
) -> str:
    body = "".join(f'<Relationship Id="{i}" Type="{_REL}/{t}" Target="{g}"/>' for i, t, g in items)
    body += "".join(
        f'<Relationship Id="{i}" Type="{_REL}/{t}" Target="{g}" TargetMode="External"/>'
        for i, t, g in external
    )
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    return f'{head}<Relationships xmlns="{_PKG_REL}">{body}</Relationships>'


_ROOT_RELS: Final = [
    ("rId1", "officeDocument", "word/document.xml"),
    ("rId2", "metadata/core-properties", "docProps/core.xml"),
    ("rId3", "extended-properties", "docProps/app.xml"),
    ("rId4", "custom-properties", "docProps/custom.xml"),
    ("rId5", "metadata/thumbnail", "docProps/thumbnail.jpeg"),
]


def _document_xml(rich: bool) -> str:
    kept, inserted, deleted = DOCX_TEXT
    body = f"<w:p><w:r><w:t>{kept}</w:t></w:r></w:p>"
    if rich:
        body = body.replace("<w:p>", '<w:p w:rsidR="00A1B2C3" w14:paraId="1A2B3C4D">')
        body += (
            '<w:p><w:commentRangeStart w:id="0"/>'
            f'<w:ins w:id="1" w:author="{AUTHOR}" w:date="2024-03-02T09:00:00Z">'
            f"<w:r><w:t>{inserted}</w:t></w:r></w:ins>"
            '<w:del w:id="2" w:author="Bob Editor" w:date="2024-03-03T09:00:00Z">'
            f"<w:r><w:delText>{deleted}</w:delText></w:r></w:del>"
            '<w:commentRangeEnd w:id="0"/><w:r><w:commentReference w:id="0"/></w:r></w:p>'
            '<w:p><w:r><w:object><v:shape id="s1"><v:imagedata r:id="rId9"/></v:shape>'
            '<o:OLEObject Type="Embed" ProgID="Excel.Sheet.12" ShapeID="s1" r:id="rId8"/>'
            "</w:object></w:r></w:p>"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {_WNS}>'
        f"<w:body>{body}</w:body></w:document>"
    )


def _docx(rich: bool) -> bytes:
    main = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    if not rich:
        return _zip(
            {
                "[Content_Types].xml": _content_types({"word/document.xml": main}),
                "_rels/.rels": _rels(_ROOT_RELS[:1]),
                "word/document.xml": _document_xml(rich=False),
            },
            dated=False,
        )
    thumb = io.BytesIO()
    _picture((16, 12)).save(thumb, "JPEG")
    comments = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:comments {_WNS}>'
        f'<w:comment w:id="0" w:author="Carol Commenter" w:date="2024-03-04T09:00:00Z" '
        'w:initials="CC"><w:p><w:r><w:t>Is this from the Tuesday meeting?</w:t></w:r></w:p>'
        "</w:comment></w:comments>"
    )
    settings = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:settings {_WNS}>'
        '<w:attachedTemplate r:id="rId1"/><w:trackRevisions/>'
        '<w:rsids><w:rsidRoot w:val="00A1B2C3"/><w:rsid w:val="00A1B2C3"/></w:rsids>'
        "</w:settings>"
    )
    return _zip(
        {
            "[Content_Types].xml": _content_types(
                {
                    "word/document.xml": "application/vnd.ms-word.document.macroEnabled.main+xml",
                    "word/comments.xml": "application/vnd.openxmlformats-officedocument."
                    "wordprocessingml.comments+xml",
                    "docProps/core.xml": "application/vnd.openxmlformats-package.core-"
                    "properties+xml",
                    "docProps/custom.xml": "application/vnd.openxmlformats-officedocument."
                    "custom-properties+xml",
                }
            ),
            "_rels/.rels": _rels(_ROOT_RELS),
            "docProps/core.xml": CORE_XML,
            "docProps/app.xml": APP_XML,
            "docProps/custom.xml": CUSTOM_XML,
            "docProps/thumbnail.jpeg": thumb.getvalue(),
            "word/document.xml": _document_xml(rich=True),
            "word/_rels/document.xml.rels": _rels(
                [
                    ("rId1", "comments", "comments.xml"),
                    ("rId2", "settings", "settings.xml"),
                    ("rId3", "vbaProject", "vbaProject.bin"),
                    ("rId4", "printerSettings", "printerSettings/printerSettings1.bin"),
                    ("rId8", "oleObject", "embeddings/oleObject1.bin"),
                    ("rId9", "image", "media/image1.jpeg"),
                ]
            ),
            "word/_rels/settings.xml.rels": _rels([], (("rId1", "attachedTemplate", TEMPLATE),)),
            "word/comments.xml": comments,
            "word/settings.xml": settings,
            "word/vbaProject.bin": b"\xd0\xcf\x11\xe0 macro project",
            "word/printerSettings/printerSettings1.bin": DEVMODE,
            "word/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0 embedded workbook",
            "word/media/image1.jpeg": thumb.getvalue(),
            "customXml/item1.xml": "<sources><owner>alice@example.org</owner></sources>",
        }
    )


def _xlsx(rich: bool) -> bytes:
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    ns += f' xmlns:r="{_REL}"'
    workbook = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook {ns}'
    if rich:
        workbook += (
            ' xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
            'xmlns:x15ac="http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac">'
            '<fileVersion appName="xl" lastEdited="7"/>'
            '<mc:AlternateContent><mc:Choice Requires="x15">'
            '<x15ac:absPath url="C:\\Users\\alice\\Documents\\Leaks\\"/></mc:Choice>'
            "</mc:AlternateContent>"
        )
    else:
        workbook += ">"
    workbook += '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet {ns}>'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>42 crates</t></is></c></row>'
        "</sheetData>" + ('<legacyDrawing r:id="rId2"/>' if rich else "") + "</worksheet>"
    )
    main = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
    members: dict[str, bytes | str] = {
        "[Content_Types].xml": _content_types({"xl/workbook.xml": main}),
        "_rels/.rels": _rels([("rId1", "officeDocument", "xl/workbook.xml")]),
        "xl/workbook.xml": workbook,
        "xl/_rels/workbook.xml.rels": _rels([("rId1", "worksheet", "worksheets/sheet1.xml")]),
        "xl/worksheets/sheet1.xml": sheet,
    }
    if rich:
        members["_rels/.rels"] = _rels(
            [("rId1", "officeDocument", "xl/workbook.xml"), *_ROOT_RELS[1:3]]
        )
        members["docProps/core.xml"] = CORE_XML
        members["docProps/app.xml"] = APP_XML
        members["xl/worksheets/_rels/sheet1.xml.rels"] = _rels(
            [
                ("rId1", "comments", "../comments1.xml"),
                ("rId2", "vmlDrawing", "../drawings/vmlDrawing1.vml"),
                ("rId3", "printerSettings", "../printerSettings/printerSettings1.bin"),
            ]
        )
        members["xl/comments1.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><comments {ns}>'
            "<authors><author>Carol Commenter</author></authors><commentList>"
            '<comment ref="A1" authorId="0"><text><t>check with the depot</t></text></comment>'
            "</commentList></comments>"
        )
        members["xl/drawings/vmlDrawing1.vml"] = "<xml/>"
        members["xl/printerSettings/printerSettings1.bin"] = DEVMODE
    return _zip(members, dated=rich)


def _pptx(rich: bool) -> bytes:
    ns = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
    ns += f' xmlns:r="{_REL}"'
    main = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
    members: dict[str, bytes | str] = {
        "[Content_Types].xml": _content_types({"ppt/presentation.xml": main}),
        "_rels/.rels": _rels([("rId1", "officeDocument", "ppt/presentation.xml")]),
        "ppt/presentation.xml": f'<?xml version="1.0" encoding="UTF-8"?><p:presentation {ns}/>',
        "ppt/_rels/presentation.xml.rels": _rels([("rId1", "slide", "slides/slide1.xml")]),
        "ppt/slides/slide1.xml": f'<?xml version="1.0" encoding="UTF-8"?><p:sld {ns}/>',
    }
    if rich:
        members["_rels/.rels"] = _rels(
            [("rId1", "officeDocument", "ppt/presentation.xml"), *_ROOT_RELS[1:3]]
        )
        members["docProps/core.xml"] = CORE_XML
        members["docProps/app.xml"] = APP_XML
        members["ppt/commentAuthors.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><p:cmAuthorLst {ns}>'
            '<p:cmAuthor id="0" name="Carol Commenter" initials="CC" lastIdx="1" clrIdx="0"/>'
            "</p:cmAuthorLst>"
        )
        members["ppt/comments/comment1.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><p:cmLst {ns}><p:cm authorId="0" '
            'dt="2024-03-04T09:00:00.000" idx="1"><p:text>cut this slide</p:text></p:cm>'
            "</p:cmLst>"
        )
        members["ppt/slides/_rels/slide1.xml.rels"] = _rels(
            [("rId1", "comments", "../comments/comment1.xml")]
        )
        members["ppt/vbaProject.bin"] = b"\xd0\xcf\x11\xe0 macro project"
        members["ppt/_rels/presentation.xml.rels"] = _rels(
            [("rId1", "slide", "slides/slide1.xml"), ("rId2", "vbaProject", "vbaProject.bin")]
        )
    return _zip(members, dated=rich)


_ODF_NS: Final = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
    'xmlns:config="urn:oasis:names:tc:opendocument:xmlns:config:1.0" '
    'xmlns:script="urn:oasis:names:tc:opendocument:xmlns:script:1.0" '
    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" office:version="1.3"'
)
ODF_MIME: Final = {
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
}


def _odf(type_: str, rich: bool) -> bytes:
    mime = ODF_MIME[type_]
    body_tag = {"odt": "text", "ods": "spreadsheet", "odp": "presentation"}[type_]
    inner = "<text:p>Kept text.</text:p>"
    scripts = ""
    if rich:
        inner = (
            '<text:tracked-changes><text:changed-region text:id="c1"><text:deletion>'
            f"<office:change-info><dc:creator>{AUTHOR}</dc:creator>"
            "<dc:date>2024-03-02T09:00:00</dc:date></office:change-info>"
            "<text:p>Deleted words.</text:p></text:deletion></text:changed-region>"
            "</text:tracked-changes>"
            '<text:p>Kept text.<text:change text:change-id="c1"/>'
            "<office:annotation><dc:creator>Carol Commenter</dc:creator>"
            "<dc:date>2024-03-04T09:00:00</dc:date><text:p>source?</text:p></office:annotation>"
            " More text.</text:p>"
            '<text:p><draw:frame><draw:object xlink:href="./Object 1"/>'
            '<draw:image xlink:href="./ObjectReplacements/Object 1"/></draw:frame></text:p>'
        )
        scripts = (
            "<office:scripts><office:event-listeners><script:event-listener "
            'script:language="ooo:script" script:event-name="dom:load" '
            'xlink:href="vnd.sun.star.script:Standard.Module1.Main"/></office:event-listeners>'
            "</office:scripts>"
        )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODF_NS}>{scripts}'
        f"<office:body><office:{body_tag}>{inner}</office:{body_tag}></office:body>"
        "</office:document-content>"
    )
    files = ["/", "content.xml"]
    members: dict[str, bytes | str] = {"mimetype": mime, "content.xml": content}
    if rich:
        thumb = io.BytesIO()
        _picture((16, 12)).save(thumb, "PNG")
        members["meta.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta {_ODF_NS}>'
            f"<office:meta><meta:initial-creator>{AUTHOR}</meta:initial-creator>"
            "<dc:creator>Bob Editor</dc:creator><dc:date>2024-03-05T12:00:00</dc:date>"
            "<meta:creation-date>2024-03-01T10:11:12</meta:creation-date>"
            "<meta:generator>LibreOffice/7.6$Linux_X86_64</meta:generator>"
            "<meta:editing-cycles>12</meta:editing-cycles>"
            "<meta:printed-by>Alice Example</meta:printed-by>"
            '<meta:user-defined meta:name="Desk">Investigations</meta:user-defined>'
            "</office:meta></office:document-meta>"
        )
        members["settings.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><office:document-settings {_ODF_NS}>'
            '<office:settings><config:config-item-set config:name="ooo:configuration-settings">'
            '<config:config-item config:name="PrinterName" config:type="string">'
            "HP LaserJet M607 Floor 3</config:config-item></config:config-item-set>"
            "</office:settings></office:document-settings>"
        )
        members["Thumbnails/thumbnail.png"] = thumb.getvalue()
        members["Basic/Standard/Module1.xml"] = "<module>Sub Main\nEnd Sub</module>"
        members["Object 1/content.xml"] = "<object/>"
        members["ObjectReplacements/Object 1"] = thumb.getvalue()
        members["Versions/Version1"] = b"an older version of the whole document"
        members["VersionList.xml"] = "<versions/>"
        files += list(members)[2:]
    entries = "".join(
        f'<manifest:file-entry manifest:full-path="{f}" manifest:media-type="'
        f'{mime if f == "/" else "text/xml"}"/>'
        for f in files
    )
    members["META-INF/manifest.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><manifest:manifest {_ODF_NS}>{entries}'
        "</manifest:manifest>"
    )
    return _zip(members, dated=rich)


# -- legacy Office (OLE compound file) ------------------------------------------------------

_SUMMARY_FMTID: Final = bytes.fromhex("e0859ff2f94f6810ab9108002b27b3d9")


def _property_set(properties: list[tuple[int, int, bytes]]) -> bytes:
    """A SummaryInformation property set ([MS-OLEPS]): one section, typed values."""
    values = b""
    offsets = []
    header_size = 8 + 8 * len(properties)
    for pid, vt, raw in properties:
        offsets.append((pid, header_size + len(values)))
        value = struct.pack("<I", vt) + raw
        values += value + b"\x00" * (-len(value) % 4)
    section = struct.pack("<II", header_size + len(values), len(properties))
    section += b"".join(struct.pack("<II", pid, at) for pid, at in offsets) + values
    head = struct.pack("<HHI", 0xFFFE, 0, 0x00020006) + bytes(16) + struct.pack("<I", 1)
    head += _SUMMARY_FMTID + struct.pack("<I", 48)
    return head + section


def _lpstr(text: str) -> bytes:
    raw = text.encode("cp1252") + b"\x00"
    return struct.pack("<I", len(raw)) + raw


def _filetime(year: int) -> bytes:
    seconds = (year - 1601) * 365.2425 * 86400
    return struct.pack("<Q", int(seconds * 10_000_000))


def _directory_entry(
    name: str, kind: int, start: int, size: int, *, child: int = -1, right: int = -1
) -> bytes:
    encoded = (name + "\x00").encode("utf-16-le")
    entry = encoded.ljust(64, b"\x00") + struct.pack("<HBB", len(encoded), kind, 1)
    entry += struct.pack("<iii", -1, right, child) + bytes(16) + bytes(4) + bytes(16)
    entry += struct.pack("<iI", start, size) + bytes(4)
    assert len(entry) == 128
    return entry


def _xst(text: str) -> bytes:
    return struct.pack("<H", len(text)) + text.encode("utf-16-le")


def _word_streams(rich: bool) -> tuple[bytes, bytes]:
    """A Word 97 ``WordDocument`` stream (its FIB, [MS-DOC] 2.5.1) and its ``1Table``: with
    ``rich``, one comment by Carol, revision marks by Alice and Bob, and a printer driver."""
    table = b""
    pairs = [(0, 0)] * 93
    if rich:
        blobs = {
            4: struct.pack("<II", 0, 10) + bytes(30),  # PlcfandRef: one comment
            27: b"HP LaserJet M607\x00",  # PrDrvr
            36: _xst("Carol Commenter"),  # GrpXstAtnOwners
            51: struct.pack("<HHH", 0xFFFF, 2, 0) + _xst(AUTHOR) + _xst("Bob Editor"),
        }
        for index, blob in blobs.items():
            pairs[index] = (len(table), len(blob))
            table += blob
    fib = struct.pack("<HHHHHH", 0xA5EC, 0x00C1, 0, 0x0409, 0, 0x0200) + bytes(20)
    fib += struct.pack("<H", 14) + bytes(28) + struct.pack("<H", 22) + bytes(88)
    fib += struct.pack("<H", 93) + b"".join(struct.pack("<II", *p) for p in pairs)
    fib += struct.pack("<H", 0)
    return fib, table


def _ole(rich: bool) -> bytes:
    """A compound file of 512-byte sectors: FAT, two directory sectors, then streams of
    4096 bytes each (so that no mini stream is needed): the summary properties and a Word
    document's two streams."""
    properties = [(1, 2, struct.pack("<H", 1252) + b"\x00\x00")]
    if rich:
        properties += [
            (4, 0x1E, _lpstr(AUTHOR)),
            (8, 0x1E, _lpstr("Bob Editor")),
            (9, 0x1E, _lpstr("14")),
            (0x12, 0x1E, _lpstr("Microsoft Office Word")),
            (0x0C, 0x40, _filetime(2024)),
        ]
    word, table = _word_streams(rich)
    streams = [
        ("\x05SummaryInformation", _property_set(properties)),
        ("WordDocument", word),
        ("1Table", table),
    ]
    fat = [0xFFFFFFFD, 2, 0xFFFFFFFE]
    entries = [_directory_entry("Root Entry", 5, -2, 0, child=1)]
    body = b""
    for number, (name, content) in enumerate(streams, start=1):
        first = len(fat)
        fat += [first + i + 1 for i in range(7)] + [0xFFFFFFFE]
        last = number == len(streams) and not rich
        entries.append(_directory_entry(name, 2, first, 4096, right=-1 if last else number + 1))
        body += content.ljust(4096, b"\x00")
    if rich:
        entries += [
            _directory_entry("Macros", 1, -2, 0, right=len(entries) + 1),
            _directory_entry("ObjectPool", 1, -2, 0),
        ]
    directory = b"".join(entries).ljust(1024, b"\x00")
    fat_sector = b"".join(struct.pack("<I", v) for v in fat).ljust(512, b"\xff")
    header = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(16)
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
    header += struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    header += struct.pack("<I", 0) + b"\xff" * (436 - 4)
    assert len(header) == 512
    data = header + fat_sector + directory + body
    return data + (TRAILER if rich else b"")


# -- audio ----------------------------------------------------------------------------------


def _mp3_frames(count: int = 20) -> bytes:
    """Silent MPEG-1 Layer III frames, 128 kbit/s at 44.1 kHz (417 bytes each)."""
    return (b"\xff\xfb\x90\x00" + bytes(413)) * count


def _tag_with_mutagen(data: bytes, tag: callable) -> bytes:  # type: ignore[valid-type]
    buffer = io.BytesIO(data)
    tag(buffer)
    return buffer.getvalue()


def _id3_frames() -> list[mutagen.id3.Frame]:
    return [
        mutagen.id3.TPE1(encoding=3, text=[AUTHOR]),
        mutagen.id3.TSSE(encoding=3, text=["Voice Recorder 2.1 (SM-G991B)"]),
        mutagen.id3.TDRC(encoding=3, text=["2024-03-01T10:11:12"]),
        mutagen.id3.APIC(encoding=3, mime="image/jpeg", type=3, desc="cover", data=b"\xff\xd8"),
        mutagen.id3.PRIV(owner="WM/MediaClassPrimaryID", data=b"\x01\x02"),
        mutagen.id3.GEOB(encoding=3, mime="text/plain", filename="a.txt", desc="", data=b"x"),
    ]


def rich_mp3() -> bytes:
    def tag(buffer: io.BytesIO) -> None:
        tags = mutagen.id3.ID3()
        for frame in _id3_frames():
            tags.add(frame)
        tags.save(buffer)

    return _tag_with_mutagen(_mp3_frames(), tag)


def _ogg_opus(comments: list[str]) -> bytes:
    head = b"OpusHead" + bytes([1, 1]) + struct.pack("<HIhB", 312, 48000, 0, 0)
    vendor = b"libopus 1.4"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(comments))
    for comment in comments:
        raw = comment.encode()
        tags += struct.pack("<I", len(raw)) + raw
    pages = []
    for sequence, (packet, position) in enumerate(
        ((head, 0), (tags, 0), (b"\xfc" + bytes(40), 960 + 312))
    ):
        page = mutagen.ogg.OggPage()
        page.serial = 0x1234
        page.sequence = sequence
        page.packets = [packet]
        page.position = position
        page.first = sequence == 0
        page.last = sequence == 2
        pages.append(page.write())
    return b"".join(pages)


def rich_ogg() -> bytes:
    return (
        _ogg_opus([f"ARTIST={AUTHOR}", "ENCODER=Recorder 4", "DATE=2024-03-01", "LOCATION=Berlin"])
        + TRAILER
    )


def _flac_bare() -> bytes:
    # STREAMINFO: block sizes, frame sizes, 44.1 kHz, 1 channel, 16 bits, 44100 samples, MD5.
    info = struct.pack(">HH", 4096, 4096) + bytes(6)
    packed = (44100 << 44) | (0 << 41) | (15 << 36) | 44100
    info += packed.to_bytes(8, "big") + bytes(16)
    frame = b"\xff\xf8\x69\x08\x00\x00" + bytes(26)  # a frame header's start, then nothing
    return b"fLaC" + bytes([0x80]) + len(info).to_bytes(3, "big") + info + frame


def rich_flac() -> bytes:
    buffer = io.BytesIO(_flac_bare())
    audio = mutagen.flac.FLAC(buffer)
    audio.add_tags()
    audio.tags["ARTIST"] = AUTHOR  # type: ignore[index]
    audio.tags["DATE"] = "2024-03-01"  # type: ignore[index]
    picture = mutagen.flac.Picture()
    picture.data = b"\xff\xd8 cover"
    picture.mime = "image/jpeg"
    audio.add_picture(picture)
    buffer.seek(0)
    audio.save(buffer)
    return buffer.getvalue()


def _riff_chunk(cid: bytes, payload: bytes) -> bytes:
    return cid + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) % 2 else b"")


def plain_wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(8000)
        target.writeframes(struct.pack("<800h", *range(-400, 400)))
    return out.getvalue()


def rich_wav() -> bytes:
    base = plain_wav()
    info = b"INFO" + _riff_chunk(b"IART", AUTHOR.encode() + b"\x00")
    info += _riff_chunk(b"ISFT", b"Zoom H4n Pro\x00") + _riff_chunk(b"ICRD", b"2024-03-01\x00")
    bext = b"Interview".ljust(256, b"\x00") + b"ZOOM H4n".ljust(32, b"\x00")
    bext += SERIAL.encode().ljust(32, b"\x00") + b"2024-03-01" + b"10:11:12"
    bext = bext.ljust(602, b"\x00")
    body = base[12:] + _riff_chunk(b"LIST", info) + _riff_chunk(b"bext", bext)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body + TRAILER


# -- MP4 family -----------------------------------------------------------------------------


def _box(tag: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + tag + payload


def _full(tag: bytes, payload: bytes) -> bytes:
    return _box(tag, b"\x00\x00\x00\x00" + payload)


_MAC_2024: Final = 3_792_000_000  # seconds since 1904: early 2024


def _mvhd(when: int) -> bytes:
    matrix = b"\x00\x01\x00\x00" + bytes(12) + b"\x00\x01\x00\x00" + bytes(12) + b"\x40" + bytes(3)
    body = struct.pack(">IIII", when, when, 1000, 1000) + b"\x00\x01\x00\x00\x01\x00" + bytes(10)
    return _full(b"mvhd", body + matrix + bytes(24) + struct.pack(">I", 2))


def _trak(when: int, handler: bytes = b"soun", sample: bytes = b"mp4a") -> bytes:
    matrix = b"\x00\x01\x00\x00" + bytes(12) + b"\x00\x01\x00\x00" + bytes(12) + b"\x40" + bytes(3)
    tkhd = _full(b"tkhd", struct.pack(">IIIII", when, when, 1, 0, 1000) + bytes(8)
                 + b"\x00\x00\x00\x00\x01\x00\x00\x00" + matrix + bytes(8))  # fmt: skip
    mdhd = _full(b"mdhd", struct.pack(">IIII", when, when, 44100, 44100) + b"\x55\xc4\x00\x00")
    hdlr = _full(b"hdlr", bytes(4) + handler + bytes(12) + b"handler\x00")
    esds = _full(b"esds", bytes([3, 25, 0, 1, 0, 4, 17, 0x40, 0x15]) + bytes(11)
                 + bytes([5, 2, 0x12, 0x10, 6, 1, 2]))  # fmt: skip
    entry = _box(sample, bytes(6) + b"\x00\x01" + bytes(8) + b"\x00\x02\x00\x10" + bytes(4)
                 + struct.pack(">I", 44100 << 16) + esds)  # fmt: skip
    stbl = _box(
        b"stbl",
        _full(b"stsd", struct.pack(">I", 1) + entry)
        + _full(b"stts", struct.pack(">I", 0))
        + _full(b"stsc", struct.pack(">I", 0))
        + _full(b"stsz", struct.pack(">II", 0, 0))
        + _full(b"stco", struct.pack(">I", 0)),
    )
    minf = _box(b"minf", _full(b"smhd", bytes(4)) + stbl)
    return _box(b"trak", tkhd + _box(b"mdia", mdhd + hdlr + minf))


def _quicktime_text(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">HH", len(raw), 0x15C7) + raw


def _quicktime_keys() -> bytes:
    keys = [b"com.apple.quicktime.location.ISO6709", b"com.apple.quicktime.model"]
    body = struct.pack(">I", len(keys)) + b"".join(
        _box(b"mdta", key)[:4] + b"mdta" + key for key in keys
    )
    values = b""
    for index, value in enumerate((b"+52.5200+013.4050/", b"iPhone 15 Pro"), start=1):
        data = _box(b"data", struct.pack(">II", 1, 0) + value)
        values += _box(struct.pack(">I", index), data)
    hdlr = _full(b"hdlr", bytes(4) + b"mdta" + bytes(12) + b"\x00")
    return _full(b"meta", hdlr + _full(b"keys", body) + _box(b"ilst", values))


def _iso(brand: bytes, rich: bool, when: int | None = None) -> bytes:
    when = (_MAC_2024 if rich else 0) if when is None else when
    udta = b""
    extra = b""
    if rich:
        udta = _box(b"udta", _box("©xyz".encode("latin-1"), _quicktime_text("+52.5200+013.4050/"))
                    + _box("©mak".encode("latin-1"), _quicktime_text("Apple"))
                    + _box(b"CAME", bytes.fromhex("0a1b2c3d")))  # fmt: skip
        extra = _quicktime_keys()
    moov = _box(b"moov", _mvhd(when) + _trak(when) + extra + udta)
    top = _box(b"ftyp", brand + bytes(4) + brand + b"mp41") + moov + _box(b"mdat", bytes(64))
    if rich:
        xmp_uuid = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
        top += _box(b"uuid", xmp_uuid + XMP) + TRAILER
    return top


def _itunes(data: bytes) -> bytes:
    buffer = io.BytesIO(data)
    audio = mutagen.mp4.MP4(buffer)
    audio.add_tags()
    assert audio.tags is not None
    audio.tags["\xa9ART"] = [AUTHOR]
    audio.tags["\xa9too"] = ["Lavf60.3.100"]
    audio.tags["apID"] = ["alice@example.org"]
    audio.tags["covr"] = [mutagen.mp4.MP4Cover(b"\xff\xd8 cover")]
    buffer.seek(0)
    audio.save(buffer)
    return buffer.getvalue()


def rich_m4a() -> bytes:
    return _itunes(_iso(b"M4A ", rich=True))


def telemetry_mp4() -> bytes:
    """A camera file with a timed metadata track (GoPro GPMF), where GPS fixes are kept."""
    moov = _box(b"moov", _mvhd(0) + _trak(0, handler=b"meta", sample=b"gpmd"))
    return _box(b"ftyp", b"isom" + bytes(4) + b"isom") + moov + _box(b"mdat", bytes(16))


# -- ZIP ------------------------------------------------------------------------------------


def rich_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.comment = b"packed by alice on WS-0042"
        info = zipfile.ZipInfo("photos/IMG_0001.jpg", (2024, 3, 1, 10, 11, 12))
        info.extra = struct.pack("<HHBI", 0x5455, 5, 1, 1709287872)
        archive.writestr(info, rich_jpeg())
        archive.writestr(zipfile.ZipInfo("readme.txt", (2024, 3, 2, 8, 0, 0)), "just text")
        archive.writestr(zipfile.ZipInfo("Users/alice/notes.md", (2024, 3, 2, 8, 0, 0)), "# n")
    return out.getvalue() + TRAILER


def plain_zip() -> bytes:
    return _zip({"readme.txt": "just text", "picture.png": plain_image("png")}, dated=False)


# -- the corpus -----------------------------------------------------------------------------

RICH: Final = {
    "jpeg": rich_jpeg,
    "png": rich_png,
    "gif": rich_gif,
    "webp": rich_webp,
    "tiff": rich_tiff,
    "heif": rich_heif,
    "pdf": rich_pdf,
    "docx": lambda: _docx(rich=True),
    "xlsx": lambda: _xlsx(rich=True),
    "pptx": lambda: _pptx(rich=True),
    "odt": lambda: _odf("odt", rich=True),
    "ods": lambda: _odf("ods", rich=True),
    "odp": lambda: _odf("odp", rich=True),
    "ole": lambda: _ole(rich=True),
    "mp3": rich_mp3,
    "m4a": rich_m4a,
    "ogg": rich_ogg,
    "flac": rich_flac,
    "wav": rich_wav,
    "mp4": lambda: _iso(b"isom", rich=True),
    "mov": lambda: _iso(b"qt  ", rich=True),
    "zip": rich_zip,
}
PLAIN: Final = {
    **{t: (lambda t=t: plain_image(t)) for t in ("jpeg", "png", "gif", "webp", "tiff", "heif")},
    "pdf": plain_pdf,
    "docx": lambda: _docx(rich=False),
    "xlsx": lambda: _xlsx(rich=False),
    "pptx": lambda: _pptx(rich=False),
    "odt": lambda: _odf("odt", rich=False),
    "ods": lambda: _odf("ods", rich=False),
    "odp": lambda: _odf("odp", rich=False),
    "ole": lambda: _ole(rich=False),
    "mp3": _mp3_frames,
    "m4a": lambda: _iso(b"M4A ", rich=False),
    "ogg": lambda: _ogg_opus([]),
    "flac": _flac_bare,
    "wav": plain_wav,
    "mp4": lambda: _iso(b"isom", rich=False),
    "mov": lambda: _iso(b"qt  ", rich=False),
    "zip": plain_zip,
}


# Built once per test process and shared by every document test module (the builders are
# deterministic, and bytes are immutable).
@cache
def rich(type_: str) -> bytes:
    return RICH[type_]()


@cache
def plain(type_: str) -> bytes:
    return PLAIN[type_]()
