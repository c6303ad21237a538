"""Drop cards: what they say, and the PNG and PDF drawn from them: the QR code decodes (with
zxing-cpp, an independent decoder) to the channel's drop recipient, and the fingerprint is
in the PNG's text chunks and in the PDF's text."""

from __future__ import annotations

import io

import pikepdf
import pypdfium2
import pytest
import zxingcpp
from PIL import Image

from mailslot.dropkeys import card, printing
from mailslot.dropkeys import services as dropkeys
from mailslot.errors import NotFound
from mailslot.runtime import Runtime
from tests.unit.test_services import NOW, add_user


def _decoded(image: Image.Image) -> list[str]:
    # QR codes only: other formats' decoders can "find" a code in the lines of text.
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return [code.text for code in found]


def test_a_card_holds_the_published_key_and_prints_as_png_and_pdf(runtime: Runtime) -> None:
    add_user(runtime, "ana")
    with runtime.default.db() as db:
        manifest = dropkeys.sync(db, organisation="Desk", now=NOW)
    assert manifest is not None
    [made] = card.drop_cards(runtime.default, ["en", "ar", "ja"], "http://127.0.0.1:8080/")
    recipient = manifest.channel("default").drop_recipient
    assert made.recipient == recipient
    assert made.fingerprint == manifest.fingerprint
    assert made.address == "http://127.0.0.1:8080/drop"  # no onion service here
    assert [i.locale for i in made.instructions] == ["en", "ar", "ja"]
    assert [i.direction for i in made.instructions] == ["ltr", "rtl", "ltr"]
    assert made.instructions[0].lines == card.INSTRUCTIONS
    assert made.qr_svg().startswith('<svg viewBox="0 0 ')

    with Image.open(io.BytesIO(printing.png(made))) as picture:
        assert picture.format == "PNG"
        assert picture.text["Signing-key fingerprint"] == manifest.fingerprint  # type: ignore[attr-defined]
        assert _decoded(picture) == [recipient]

    data = printing.pdf([made])
    with pikepdf.open(io.BytesIO(data)) as document:
        assert len(document.pages) == 1
    pdf = pypdfium2.PdfDocument(data)
    try:
        page = pdf[0]
        text = page.get_textpage().get_text_range()
        assert manifest.fingerprint in text
        assert "http://127.0.0.1:8080/drop" in text
        assert _decoded(page.render(scale=200 / 72).to_pil()) == [recipient]
    finally:
        pdf.close()


def test_no_card_before_keys_are_published_nor_for_an_unknown_channel(runtime: Runtime) -> None:
    with pytest.raises(NotFound):
        card.drop_cards(runtime.default, ["en"], "http://x")
    add_user(runtime, "ana")
    with runtime.default.db() as db:
        dropkeys.sync(db, organisation="Desk", now=NOW)
    with pytest.raises(NotFound):
        card.drop_cards(runtime.default, ["en"], "http://x", "no such channel")
    assert [c.channel for c in card.drop_cards(runtime.default, ["en"], "http://x", "default")] == [
        "default"
    ]
