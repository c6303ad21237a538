"""Deleting a case on a reader's request forgets its codename exactly as the purge does
(issue 18)."""

from __future__ import annotations

from mailslot.cases import deletion
from mailslot.cases.models import Case
from mailslot.recipients import services as recipients
from mailslot.runtime import Runtime
from mailslot.sources.models import Source
from tests.unit.test_services import add_user, count, new_case


def add_source(runtime: Runtime, tag: bytes) -> str:
    with runtime.default.db() as db:
        source = Source(lookup=tag * 32, public_key=b"P" * 32, created_at=0)
        db.add(source)
        db.flush()
        return source.id


def delete(runtime: Runtime, username: str, case_id: str) -> None:
    with runtime.default.db() as db:
        user = recipients.find_user(db, username)
        assert user is not None
        db.expunge(user)
    deletion.delete_case(runtime.default, user, case_id)


def test_deleting_a_codenames_last_case_forgets_the_codename(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    only = add_source(runtime, b"A")
    twice = add_source(runtime, b"B")
    only_case = new_case(runtime, source_id=only)
    first, second = new_case(runtime, source_id=twice), new_case(runtime, source_id=twice)
    delete(runtime, alice.username, only_case)
    assert count(runtime, Case, Case.id == only_case) == 0
    assert count(runtime, Source, Source.id == only) == 0  # its lookup tag and key are gone
    # A codename with another case keeps working until that one goes too.
    delete(runtime, alice.username, first)
    assert count(runtime, Source, Source.id == twice) == 1
    delete(runtime, alice.username, second)
    assert count(runtime, Source, Source.id == twice) == 0
