"""Recipients' public display names from the CLI (``mailslot users add --display-name``,
``users set-display-name``): validated like the channel settings form, audited."""

from __future__ import annotations

import json

from click.testing import CliRunner, Result
from sqlalchemy import select

from mailslot.audit.models import AuditEvent
from mailslot.channels import choice
from mailslot.channels import services as channels
from mailslot.config import Config
from mailslot.recipients.models import User
from mailslot.runtime import Runtime
from tests.unit.test_services import PASSWORD


def invoke(config: Config, *args: str, stdin: str = "") -> Result:
    from mailslot.cli.users import users

    return CliRunner().invoke(users, list(args), obj={"config": config}, input=stdin)


def test_display_names_are_set_from_the_cli(config: Config, runtime: Runtime) -> None:
    added = invoke(
        config,
        *("add", "--username", "rita", "--role", "recipient", "--password-file", "-"),
        *("--display-name", " Rita (legal desk)\x07 ", "--json"),
        stdin=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["display_name"] == "Rita (legal desk)"
    refused = invoke(
        config,
        *("add", "--username", "ann", "--role", "analyst", "--password-file", "-"),
        *("--display-name", "Ann"),
        stdin=PASSWORD + "\n",
    )
    assert refused.exit_code == 1
    assert "Only recipients" in refused.output

    too_long = invoke(config, "set-display-name", "rita", "x" * (choice.MAX_DISPLAY_NAME + 1))
    assert too_long.exit_code == 1
    assert "too long" in too_long.output
    assert invoke(config, "set-display-name", "nobody", "N").exit_code == 1
    renamed = invoke(config, "set-display-name", "rita", "Rita R.")
    assert renamed.exit_code == 0, renamed.output
    with runtime.default.db() as db:
        channel = channels.get_channel_by_name(db, "default")
        assert [c.name for c in choice.choosable(db, channel)] == []  # sources do not choose
        channel.sources_choose = True
    with runtime.default.db() as db:
        channel = channels.get_channel_by_name(db, "default")
        assert [c.name for c in choice.choosable(db, channel)] == ["Rita R."]
    assert "Rita R." in invoke(config, "list").output
    cleared = invoke(config, "set-display-name", "rita", "")
    assert cleared.exit_code == 0
    with runtime.default.db() as db:
        assert db.scalar(select(User.display_name).where(User.username == "rita")) is None
        events = list(
            db.scalars(
                select(AuditEvent.detail).where(AuditEvent.action == "admin.user_display_name")
            )
        )
        assert len(events) == 2
        assert "Rita R." in events[0]
