"""Audio (MP3, Ogg, FLAC, WAV): tags read with mutagen, WAV chunks with hachoir.

Findings come from ID3 frames (MP3, and WAV's ``id3`` chunk), APEv2 tags, Vorbis comments
(Ogg, FLAC), FLAC pictures and application blocks, and WAV's INFO list, Broadcast Wave
(``bext``), iXML and XMP chunks. Bytes after a WAV's RIFF size or after an Ogg stream's last
page are trailing data. (MP4 audio, M4A, is read by ``video.py``.)

Clean copies: mutagen deletes every tag (ID3v1, ID3v2 and APEv2 for MP3; the comment of an Ogg
stream; for FLAC, every block but the stream information, seek table and padding). A WAV is
written again by Python's ``wave`` module from its samples alone (PCM only). The encoder's
name inside the audio stream itself (such as LAME's) is left: it names software, not a person
or a device.
"""

from __future__ import annotations

import io
import wave
from typing import Final

import mutagen
import mutagen.apev2
import mutagen.flac
import mutagen.id3
import mutagen.mp3
import mutagen.ogg
import mutagen.wave
from hachoir.core import config as hachoir_config
from hachoir.parser.audio.mpeg_audio import MpegAudioFile
from hachoir.parser.container.riff import RiffFile
from hachoir.stream import InputIOStream

from mailslot.documents import findings as k
from mailslot.documents.errors import NotSanitisable, UnreadableDocument
from mailslot.documents.findings import Findings
from mailslot.documents.parsing import parse_xml, reading
from mailslot.documents.xmp import xmp_findings

hachoir_config.quiet = True

_ID3: Final[dict[str, str]] = {
    **dict.fromkeys(
        ("TPE1", "TPE2", "TPE3", "TPE4", "TCOM", "TEXT", "TOLY", "TOPE", "TOWN", "TIT1", "TIT2",
         "TIT3", "TALB", "TCOP", "TPUB", "TENC", "COMM", "USLT", "TXXX", "WXXX", "WOAR",
         "WCOP", "WPUB", "IPLS", "TIPL", "TMCL"),
        k.AUTHOR,
    ),
    "TSSE": k.DEVICE,
    **dict.fromkeys(
        ("TDRC", "TDOR", "TDEN", "TDRL", "TDTG", "TYER", "TDAT", "TIME", "TORY", "TRDA"),
        k.TIMESTAMP,
    ),
    "APIC": k.THUMBNAIL,
    "PIC": k.THUMBNAIL,
    "PRIV": k.SERIAL,
    "UFID": k.SERIAL,
    "MCDI": k.SERIAL,
    "GEOB": k.ATTACHMENT,
}  # fmt: skip
_VORBIS: Final[dict[str, str]] = {
    **dict.fromkeys(
        ("artist", "albumartist", "performer", "composer", "lyricist", "copyright", "contact",
         "organization", "title", "album", "comment", "description", "license",
         "encoded-by", "encodedby", "author", "copyright"),
        k.AUTHOR,
    ),
    "encoder": k.DEVICE,
    "encoding": k.DEVICE,
    **dict.fromkeys(("date", "year", "creation_time", "originaldate"), k.TIMESTAMP),
    **dict.fromkeys(("location", "geo", "gps"), k.GPS),
    **dict.fromkeys(("metadata_block_picture", "coverart"), k.THUMBNAIL),
}  # fmt: skip
_INFO: Final[dict[str, str]] = {
    **dict.fromkeys(
        ("IART", "INAM", "ICMT", "ICOP", "IENG", "ITCH", "ISRC", "IKEY", "ISBJ", "IPRD",
         "ICMS", "IPRT"),
        k.AUTHOR,
    ),
    "ISFT": k.DEVICE,
    "ICRD": k.TIMESTAMP,
    "IDIT": k.TIMESTAMP,
}  # fmt: skip
_QUIET_CHUNKS: Final = frozenset({"fmt ", "data", "fact", "JUNK", "PAD ", "cue ", "smpl", "inst"})
_FLAC_KEPT_BLOCKS: Final = (mutagen.flac.StreamInfo, mutagen.flac.SeekTable, mutagen.flac.Padding)
_MUTAGEN: Final = {
    "mp3": mutagen.mp3.MP3,
    "flac": mutagen.flac.FLAC,
    "wav": mutagen.wave.WAVE,
}


def _open(data: bytes, type_: str) -> mutagen.FileType:
    with reading(type_):
        opener = _MUTAGEN.get(type_)
        stream = io.BytesIO(data)
        loaded = opener(stream) if opener else mutagen.File(stream)  # type: ignore[no-untyped-call]
    if loaded is None:
        raise UnreadableDocument(f"{type_}: not a stream mutagen can read")
    return loaded


def inspect_audio(data: bytes, type_: str) -> Findings:
    found = Findings()
    audio = _open(data, type_)
    with reading(type_):
        tags: object = audio.tags
        if isinstance(tags, mutagen.id3.ID3):
            _id3(tags, found)
        elif isinstance(tags, list):  # Vorbis comments: a list of (key, value)
            for key, value in tags:
                _vorbis(str(key), value, found)
        elif tags is not None:
            for key, value in getattr(tags, "items", list)():
                _vorbis(str(key), value, found)
        if isinstance(audio, mutagen.flac.FLAC):
            _flac(audio, found)
        if type_ == "mp3":
            try:
                ape = mutagen.apev2.APEv2(io.BytesIO(data))  # type: ignore[no-untyped-call]
            except mutagen.apev2.APENoHeaderError:
                ape = None
            for key, value in (ape or {}).items():
                found.add(k.AUTHOR, f"APE tag {key}", str(value))
    if type_ == "mp3":
        extra = len(data) - _mp3_end(data)
        if extra > 0:
            found.add(k.TRAILING_DATA, f"{extra} bytes after the last MP3 frame and tag")
    if type_ == "wav":
        _wav(data, found)
    if type_ == "ogg":
        _ogg_trailing(data, found)
    return found


def _id3(tags: mutagen.id3.ID3, found: Findings) -> None:
    for frame in tags.values():  # type: ignore[no-untyped-call]
        frame_id = frame.FrameID
        kind = _ID3.get(frame_id)
        if kind is None:
            continue
        if kind in (k.THUMBNAIL, k.ATTACHMENT):
            found.add(kind, f"ID3 {frame_id} (embedded picture or file)")
        elif kind == k.SERIAL:
            owner = getattr(frame, "owner", "")
            found.add(kind, f"ID3 {frame_id} identifier", owner or "present")
        else:
            found.add(kind, f"ID3 {frame_id}", str(frame))


def _vorbis(key: str, value: object, found: Findings) -> None:
    kind = _VORBIS.get(key.lower())
    if kind is None:
        return
    text = "; ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    if kind == k.THUMBNAIL:
        found.add(kind, f"embedded picture ({key})")
    else:
        found.add(kind, f"tag {key}", text)


def _flac(audio: mutagen.flac.FLAC, found: Findings) -> None:
    if audio.pictures:
        found.add(k.THUMBNAIL, f"{len(audio.pictures)} embedded picture(s)")
    for block in audio.metadata_blocks:
        if block.code == 2:  # APPLICATION
            found.add(k.DEVICE, "application data block (written by the recording software)")
        elif block.code == 5:  # CUESHEET
            found.add(k.SERIAL, "cue sheet (may carry a disc's catalogue number)")


def _wav(data: bytes, found: Findings) -> None:
    with reading("wav"):
        parsed = RiffFile(InputIOStream(io.BytesIO(data), source="document"))
        chunks = [
            (field["tag"].value, field) for field in parsed if field.is_field_set and "tag" in field
        ]
        for tag, field in chunks:
            if tag == "LIST":
                for item in field:
                    if item.is_field_set and "text" in item:
                        name = item["tag"].value
                        kind = _INFO.get(name, k.AUTHOR)
                        found.add(kind, f"RIFF INFO {name}", item["text"].value)
            elif tag == "bext":
                _bext(_raw(field), found)
            elif tag == "iXML":
                found.add(k.DEVICE, "iXML chunk (recorder and project data)")
                _ixml(_raw(field), found)
            elif tag == "_PMX":
                found.extend(xmp_findings(_raw(field), "XMP"))
            elif tag.lower() == "id3 ":
                continue  # read through mutagen above
            elif tag not in _QUIET_CHUNKS:
                found.add(k.DEVICE, f"unrecognised chunk {tag!r} (may hold recorder data)")
    declared = int.from_bytes(data[4:8], "little") + 8
    if len(data) > declared + (declared & 1):
        found.add(k.TRAILING_DATA, f"{len(data) - declared} bytes after the end of the WAV")


def _raw(field: object) -> bytes:
    start = field.absolute_address // 8 + 8  # type: ignore[attr-defined]
    size = field["size"].value  # type: ignore[index]
    stream = field.stream  # type: ignore[attr-defined]
    return bytes(stream.readBytes(start * 8, size))


def _bext(raw: bytes, found: Findings) -> None:
    """Broadcast Wave extension (EBU Tech 3285): fixed-size text fields at fixed offsets."""

    def text(start: int, end: int) -> str:
        return raw[start:end].split(b"\x00", 1)[0].decode("latin-1").strip()

    fields = (
        (k.AUTHOR, "description", text(0, 256)),
        (k.DEVICE, "originator", text(256, 288)),
        (k.SERIAL, "originator reference", text(288, 320)),
        (k.TIMESTAMP, "origination date and time", f"{text(320, 330)} {text(330, 338)}".strip()),
        (k.SERIAL, "UMID", raw[348:412].hex() if any(raw[348:412]) else ""),
        (k.DEVICE, "coding history", text(602, len(raw))),
    )
    for kind, label, value in fields:
        if value:
            found.add(kind, f"Broadcast Wave {label}", value)


def _ixml(raw: bytes, found: Findings) -> None:
    try:
        root = parse_xml(raw.rstrip(b"\x00"), "iXML")
    except UnreadableDocument:
        return
    for element in root.iter():
        if element.tag in ("PROJECT", "NOTE", "TAPE", "USER", "FILE_UID") and element.text:
            kind = k.SERIAL if element.tag == "FILE_UID" else k.AUTHOR
            found.add(kind, f"iXML {element.tag}", element.text)


def _ogg_trailing(data: bytes, found: Findings) -> None:
    with reading("ogg"):
        stream = io.BytesIO(data)
        end = 0
        while True:
            try:
                mutagen.ogg.OggPage(stream)  # type: ignore[no-untyped-call]
            except EOFError:
                break
            except mutagen.ogg.error:
                break
            end = stream.tell()
    if len(data) > end:
        found.add(k.TRAILING_DATA, f"{len(data) - end} bytes after the last Ogg page")


def sanitise_audio(data: bytes, type_: str) -> bytes:
    if type_ == "wav":
        return _clean_wav(data)
    buffer = io.BytesIO(data)
    audio = _open(data, type_)
    with reading(type_):
        if isinstance(audio, mutagen.flac.FLAC):
            audio.metadata_blocks = [
                b for b in audio.metadata_blocks if isinstance(b, _FLAC_KEPT_BLOCKS)
            ]
            audio.tags = None
            audio.save(buffer, deleteid3=True, padding=lambda _info: 0)
        else:
            audio.delete(buffer)
        if type_ == "mp3":
            mutagen.apev2.delete(buffer)
        out = buffer.getvalue()
    if type_ == "mp3":
        out = out[: _mp3_end(out)]
    if type_ == "ogg":
        out = _ogg_pages_only(out)
    return out


def _mp3_end(data: bytes) -> int:
    """Where the MPEG frames (and an ID3 tag at either end) stop, as hachoir finds them."""
    with reading("mp3"):
        parsed = MpegAudioFile(InputIOStream(io.BytesIO(data), source="document"))
        size = parsed.content_size
    return size // 8 if isinstance(size, int) else len(data)


def _ogg_pages_only(data: bytes) -> bytes:
    stream = io.BytesIO(data)
    end = 0
    with reading("ogg"):
        while True:
            try:
                mutagen.ogg.OggPage(stream)  # type: ignore[no-untyped-call]
            except (EOFError, mutagen.ogg.error):
                break
            end = stream.tell()
    return data[:end]


def _clean_wav(data: bytes) -> bytes:
    with reading("wav"):
        try:
            with wave.open(io.BytesIO(data), "rb") as source:
                params = source.getparams()
                frames = source.readframes(params.nframes)
        except wave.Error as exc:
            raise NotSanitisable(f"wav: only PCM audio can be copied ({exc})") from exc
        out = io.BytesIO()
        with wave.open(out, "wb") as target:
            target.setnchannels(params.nchannels)
            target.setsampwidth(params.sampwidth)
            target.setframerate(params.framerate)
            target.writeframes(frames)
    return out.getvalue()
