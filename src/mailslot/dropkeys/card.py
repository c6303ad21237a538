"""Drop cards: what a newsroom prints and hands on paper to people who may carry sealed files,
as a use case that only reads (``/keys/card`` and ``mailslot keys card``).

A card names the address to send sealed files to (the source interface's onion address, or
its plain address where there is none), one channel's drop recipient as a QR code, the
signing-key fingerprint that ``/keys.json`` must verify against, and three short lines of
instructions in each language asked for. Everything on it is public: the same as ``/keys``.
``printing.py`` draws it as PNG or PDF; the web page is HTML with the QR code as inline SVG.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from mailslot import i18n
from mailslot.context import OrgContext
from mailslot.dropkeys import services
from mailslot.errors import NotFound
from mailslot.i18n import N_
from mailslot.instance.models import Instance
from mailslot.instance.services import get_instance

if TYPE_CHECKING:
    import segno

# Three lines, short enough for a card, in plain words (docs/sealed-drops.md says more).
INSTRUCTIONS: Final = (
    N_("On a computer that stays offline, install the free age tool, version 1.3 or later."),
    N_("Save the key in the code as key.txt, then seal: age -R key.txt -o report.age report.zip"),
    N_(
        "Check that the keys page shows the fingerprint printed here, then send the .age file "
        "to the address above, or have anyone carry it there."
    ),
)
ADDRESS_LABEL: Final = N_("Send sealed files to")
KEY_LABEL: Final = N_("Drop key of %(channel)s")
FINGERPRINT_LABEL: Final = N_("Signing-key fingerprint")
DROP_PATH: Final = "/drop"


@dataclass(frozen=True, slots=True)
class Instructions:
    """The card's lines in one language."""

    locale: str
    tag: str  # BCP 47, for ``lang``
    direction: str  # "ltr" or "rtl"
    key_label: str
    address_label: str
    fingerprint_label: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DropCard:
    organisation: str
    address: str  # where to send sealed files: the courier page
    channel: str
    recipient: str  # age1pq1…
    fingerprint: str  # the signing key's, in groups of four
    version: int  # of the manifest the card was made from
    instructions: tuple[Instructions, ...]

    def qr(self) -> segno.QRCode:
        """The drop recipient as a QR code (byte mode: it decodes to the exact string)."""
        import segno  # noqa: PLC0415 - only a card needs it; keeps idle memory down

        return segno.make_qr(self.recipient, error="m", mode="byte", boost_error=False)

    def qr_svg(self) -> str:
        """The QR code as an SVG element for an HTML page (no script, no style attribute)."""
        return str(
            self.qr().svg_inline(
                scale=2, border=4, dark="#000", light="#fff", omitsize=True, svgclass="qr"
            )
        )


def instructions(locale: str, channel: str) -> Instructions:
    language = i18n.language(locale)
    return Instructions(
        locale=locale,
        tag=language.tag,
        direction=i18n.text_direction(locale),
        key_label=i18n.translate(locale, KEY_LABEL, {"channel": channel}),
        address_label=i18n.translate(locale, ADDRESS_LABEL),
        fingerprint_label=i18n.translate(locale, FINGERPRINT_LABEL),
        lines=tuple(i18n.translate(locale, line) for line in INSTRUCTIONS),
    )


def _organisation_locale(instance: Instance) -> str | None:
    # The organisation's default language, where the install has one (issue 15 adds it).
    chosen = getattr(instance, "default_locale", None)
    return i18n.supported(chosen) if isinstance(chosen, str) else None


def drop_cards(
    ctx: OrgContext,
    locales: Sequence[str],
    fallback_url: str,
    channel: str | None = None,
    *,
    with_organisation: bool = False,
) -> list[DropCard]:
    """A card for each channel with a published drop key (only ``channel``'s when named),
    from the latest manifest, with instructions in ``locales`` (then the organisation's
    default language, ``with_organisation``); the address is the onion service's, else
    ``fallback_url``. Raises :class:`NotFound` when nothing is published or there is no such
    channel."""
    with ctx.db() as db:
        manifest = services.latest(db)
        default = _organisation_locale(get_instance(db, ctx.instance_id))
    if with_organisation and default is not None:
        locales = [*locales, default]
    if manifest is None:
        raise NotFound("No keys are published at the moment.")
    base = (ctx.source_onion_url() or fallback_url).rstrip("/")
    chosen = [c for c in manifest.channels if channel is None or c.name == channel]
    if not chosen:
        raise NotFound("There is no channel with that name.")
    wanted = list(dict.fromkeys(locales))
    return [
        DropCard(
            organisation=manifest.organisation,
            address=base + DROP_PATH,
            channel=entry.name,
            recipient=entry.drop_recipient,
            fingerprint=manifest.fingerprint,
            version=manifest.version,
            instructions=tuple(instructions(locale, entry.name) for locale in wanted),
        )
        for entry in chosen
    ]
