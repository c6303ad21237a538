"""Texts that admins write, per language (``instance.texts``): the default language's in its
owner's column and the fallback, the others beside it; changing the default language moves
them; a channel's name and description alike; the automatic acknowledgement falls back to
the organisation's default language."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailslot.channels import services as channels
from mailslot.channels import settings as channel_settings
from mailslot.errors import Conflict, InvalidInput
from mailslot.instance import services as instance
from mailslot.instance import texts
from mailslot.instance.models import LocalizedText
from mailslot.runtime import Runtime


def stored(runtime: Runtime) -> set[tuple[str, str, str, str]]:
    with runtime.default.db() as db:
        rows = db.execute(
            select(
                LocalizedText.owner, LocalizedText.field, LocalizedText.locale, LocalizedText.text
            )
        )
        return {(owner, field, locale, text) for owner, field, locale, text in rows}


def test_the_default_language_is_the_fallback_and_can_change(runtime: Runtime) -> None:
    ctx = runtime.default
    with ctx.db() as db:
        instance.update_settings(
            db,
            ctx.instance_id,
            name={"en": "Desk", "ko": " 데스크 ", "fr": ""},
            guidance={"en": "Use Tor.", "fa": "از Tor استفاده کنید."},
            show_source_submissions=False,
        )
    assert stored(runtime) == {
        ("instance", "name", "ko", "데스크"),
        ("instance", "guidance", "fa", "از Tor استفاده کنید."),
    }
    with ctx.db() as db:
        row = instance.get_instance(db, ctx.instance_id)
        name, guidance = instance.localized_texts(db, row)
        assert (row.name, row.default_locale) == ("Desk", "en")
        assert (name.text("ko"), name.text("fr"), guidance.text("fa")) == (
            "데스크",
            "Desk",
            "از Tor استفاده کنید.",
        )
        assert instance.display_name(db, ctx.instance_id, "ko") == "데스크"
        # Korean becomes the default: its text moves into the row, English beside it.
        instance.update_settings(
            db,
            ctx.instance_id,
            name={"en": "Desk", "ko": "데스크"},
            guidance={"ko": ""},
            show_source_submissions=False,
            default_locale="ko",
        )
        assert texts.default_locale(db) == "ko"
    assert stored(runtime) == {
        ("instance", "name", "en", "Desk"),
        ("instance", "guidance", "fa", "از Tor استفاده کنید."),
    }
    with ctx.db() as db:
        row = instance.get_instance(db, ctx.instance_id)
        assert (row.name, row.guidance) == ("데스크", "")
        # A plain string sets the default language's text and keeps the others.
        instance.update_settings(
            db, ctx.instance_id, name="데스크 2", guidance="", show_source_submissions=False
        )
        assert instance.localized_texts(db, row)[0].text("en") == "Desk"
        with pytest.raises(InvalidInput):  # the default language's name is required
            instance.update_settings(
                db, ctx.instance_id, name={"en": "Desk"}, guidance="", show_source_submissions=False
            )
        with pytest.raises(InvalidInput):
            instance.update_settings(
                db, ctx.instance_id, name={"xx": "?"}, guidance="", show_source_submissions=False
            )
        with pytest.raises(InvalidInput):
            instance.update_settings(
                db,
                ctx.instance_id,
                name="Desk",
                guidance="",
                show_source_submissions=False,
                quick_exit_url="javascript:alert(1)",
            )


def test_a_channel_in_every_language(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        channel = channels.create_channel(
            db,
            name={"en": "Tips", "de": "Hinweise"},
            description={"en": "For tips.", "ar": "للنصائح."},
            recipients=[],
            now=0,
        )
        shown = channels.channel_texts(db, [channel])[channel.id]
        assert (shown.name.text("de"), shown.name.text("ja")) == ("Hinweise", "Tips")
        assert shown.description.text("ar") == "للنصائح."
        assert shown.name.by_locale("en") == {"en": "Tips", "de": "Hinweise"}
        with pytest.raises(Conflict):  # names stay unique in the default language
            channels.create_channel(db, name="Tips", description="", recipients=[], now=0)
        channels.set_texts(db, channel, {"en": "Tips", "de": ""}, {"en": "For tips."})
        shown = channels.channel_texts(db, [channel])[channel.id]
        assert shown.name.text("de") == "Tips"
        assert shown.description.text("ar") == "للنصائح."  # not given: kept


def test_the_acknowledgement_falls_back_to_the_default_language(runtime: Runtime) -> None:
    ctx = runtime.default
    with ctx.db() as db:
        channel = channels.get_channel_by_name(db, "default")
        channel_settings.set_auto_replies(db, channel, {"en": "Thanks.", "ko": "감사합니다."})
        assert channel_settings.auto_reply_for(db, channel.id, "fr") == "Thanks."
        instance.update_settings(
            db,
            ctx.instance_id,
            name={"ko": "데스크"},
            guidance="",
            show_source_submissions=False,
            default_locale="ko",
        )
        assert channel_settings.auto_reply_for(db, channel.id, "fr") == "감사합니다."
        assert channel_settings.auto_reply_for(db, channel.id, "en") == "Thanks."
