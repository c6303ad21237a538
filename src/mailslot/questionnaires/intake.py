"""A source answering a channel's questionnaire, step by step, as use cases (the source's
web pages call them; docs/spec/questionnaire.md).

The answers in progress live in a sealed draft (``drafts.py``), never in the page and never
in clear. Every step's answers are read again from the draft with the definition of the
version the draft was started with, so a step reached by a crafted URL, or a draft whose
version was replaced meanwhile, never bypasses a condition: a new current version starts the
source again from its first step.

Sending seals the answers as items of the source's new case through the submission use case
(``sources.submissions.store``): the answers document (JSON, ``sealed.py``), the same answers
as readable text (so that the zip download, export bundles and ``mailslot decrypt`` carry
them readable), and, apart, the identity document if the source gave identity answers. Each
is a file item whose media type says what it is (:data:`ANSWERS_TYPE` …).

Only a first submission takes a questionnaire: a returning source writes in the
conversation. Sources are never in the audit trail.

Files chosen in a file field arrive with their step, already sealed (``files.py``); the
draft keeps them until the answers are sent, when they become file items of the new case
whose ids the answers name. Choosing files again in a field replaces the ones kept; files
that break the field's limits are deleted at once and the ones kept before stay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from mailslot.cases import sealing
from mailslot.cases import services as cases
from mailslot.cases.errors import ChannelClosed
from mailslot.channels import services as channels
from mailslot.context import OrgContext
from mailslot.errors import AuthenticationFailed, InvalidInput, NotFound
from mailslot.i18n import DEFAULT_LOCALE, N_
from mailslot.questionnaires import counts, drafts, files, store
from mailslot.questionnaires.answers import FILE_TOO_LARGE, TOO_MANY_FILES, collect, validate_step
from mailslot.questionnaires.drafts import Draft, Raw
from mailslot.questionnaires.files import KeptFile
from mailslot.questionnaires.limits import DEFAULT_MAX_FILES
from mailslot.questionnaires.logic import (
    next_step,
    previous_step,
    route,
    stop_message,
    visible_fields,
    visible_steps,
)
from mailslot.questionnaires.model import Definition, Field, FieldType
from mailslot.questionnaires.reading import ANSWERS_TYPE, IDENTITY_TYPE
from mailslot.questionnaires.render import render_text
from mailslot.questionnaires.sealed import seal_form
from mailslot.questionnaires.values import Answers, ByteCount, FieldError
from mailslot.sessions.services import SessionState
from mailslot.sources import submissions
from mailslot.sources.access import SESSION_ENDED

TEXT_TYPE: Final = "text/plain; charset=utf-8"
ANSWERS_NAME: Final = "answers.json"
IDENTITY_NAME: Final = "identity.json"
TEXT_NAME: Final = "answers.txt"

REVIEW: Final = -1  # the step "index" of the review page
FILES_TOO_LARGE: Final = N_("Your files together can be at most %(size)s.")


@dataclass(frozen=True, slots=True)
class StepPage:
    """What a step's page shows: the step, what was typed, errors, and where it stands."""

    stored: store.Stored
    index: int
    position: int  # 1-based among the steps shown so far
    total: int  # the steps shown for the answers so far
    earlier: Answers  # the answers of the steps before, for the fields' conditions
    raw: Raw
    errors: dict[str, FieldError] = field(default_factory=dict)
    first: bool = False
    files: dict[str, list[KeptFile]] = field(default_factory=dict)  # kept, per field id


@dataclass(frozen=True, slots=True)
class Outcome:
    """After a step was sent: the page to go to (a step index, or :data:`REVIEW`), or the
    same step again (``page``: errors, or fields that appeared), or a stop message."""

    go: int | None = None
    page: StepPage | None = None
    stop: str | None = None


@dataclass(frozen=True, slots=True)
class ReviewPage:
    stored: store.Stored
    answers: Answers
    text: str  # the answers as the recipients will read them
    last_step: int
    errors: dict[int, dict[str, FieldError]]
    stop: str | None


def _check_session(session: SessionState | None) -> SessionState:
    if session is None:
        raise AuthenticationFailed(SESSION_ENDED)
    if session.data.source_id is not None:
        raise InvalidInput("You have sent your answers already. Write in your conversation.")
    if session.data.new_lookup is None:
        raise AuthenticationFailed(SESSION_ENDED)
    return session


def _current_open(ctx: OrgContext, channel_id: str) -> store.Stored:
    with ctx.db() as db:
        if channel_id not in {c.id for c in channels.open_channels(db)}:
            raise ChannelClosed()
        found = store.current(db, channel_id)
    if found is None:
        raise NotFound("This channel has no questionnaire.")
    return found


def has_questionnaire(ctx: OrgContext, channel_id: str) -> bool:
    with ctx.db() as db:
        return store.current(db, channel_id) is not None


def _draft(ctx: OrgContext, session: SessionState, stored: store.Stored) -> Draft:
    """The session's draft for this channel's current version; a fresh one otherwise (the
    files of a draft for another version or channel are deleted)."""
    with ctx.db() as db:
        found = drafts.load(db, session)
        if found is not None and (
            found.channel_id != stored.channel_id or found.questionnaire_id != stored.ref.id
        ):
            files.drop(db, ctx.blobs, found.all_files())
            found = None
    return found or Draft(stored.channel_id, stored.ref.id)


def _answers_before(stored: store.Stored, draft: Draft, index: int) -> Answers:
    steps = {i: raw for i, raw in draft.steps.items() if i < index}
    return collect(stored.definition, steps).answers


def _page(
    stored: store.Stored,
    draft: Draft,
    index: int,
    raw: Raw | None = None,
    errors: dict[str, FieldError] | None = None,
) -> StepPage:
    earlier = _answers_before(stored, draft, index)
    with_this = collect(stored.definition, draft.steps).answers
    shown = visible_steps(stored.definition, with_this)
    position = sum(1 for i in shown if i <= index)
    return StepPage(
        stored=stored,
        index=index,
        position=max(position, 1),
        total=max(len(shown), position, 1),
        earlier=earlier,
        raw=draft.steps.get(index, {}) if raw is None else raw,
        errors=errors or {},
        first=previous_step(stored.definition, earlier, index) is None,
        files={f.id: draft.files.get(f.id, []) for f in stored.definition.steps[index].fields},
    )


def show_step(
    ctx: OrgContext, session: SessionState | None, channel_id: str, index: int | None
) -> StepPage | int:
    """The page of step ``index`` (None: the first step); or, when that step is not shown
    for the answers so far, the index of the step to show instead."""
    session = _check_session(session)
    stored = _current_open(ctx, channel_id)
    draft = _draft(ctx, session, stored)
    definition = stored.definition
    first = next_step(definition, Answers(), None)
    if first is None:
        raise NotFound("This channel has no questionnaire.")
    if index is None:
        return _page(stored, draft, first)
    earlier = _answers_before(stored, draft, index)
    if index not in visible_steps(definition, earlier) or index >= len(definition.steps):
        return first
    # A step after one that was never answered correctly sends the source back to it.
    kept = files.attached(draft.files)
    for before in visible_steps(definition, earlier):
        if before >= index:
            break
        raw = draft.steps.get(before, {})
        _, errors = validate_step(definition, before, raw, earlier=earlier, files=kept)
        if errors:
            return before
    return _page(stored, draft, index)


def answer_step(
    ctx: OrgContext,
    session: SessionState | None,
    channel_id: str,
    index: int,
    raw: Raw,
    *,
    shown: frozenset[str],
    back: bool,
    locale: str,
    received: Mapping[str, Sequence[KeptFile]] | None = None,
) -> Outcome:
    """Keep what was typed on step ``index`` and the files chosen on it (``received``, per
    form field: sealed already), then: Back goes to the step before (keeping it all, errors
    or not); Next shows the step again when it has errors or when the fields it shows
    changed with these answers (a condition on the same step), stops with a message if an
    answer stops the submission, or goes on (the review after the last).

    Every file in ``received`` is this use case's from the start: kept in the draft, or
    deleted (a form field that is no file field of this step, files over its limits, or a
    step refused before its draft was saved)."""
    received = received or {}
    try:
        session = _check_session(session)
        stored = _current_open(ctx, channel_id)
        definition = stored.definition
        if not 0 <= index < len(definition.steps):
            raise NotFound("No such step.")
        draft = _draft(ctx, session, stored)
        draft.steps[index] = raw
        file_errors, gone = _take_files(ctx, definition.steps[index].fields, draft, received)
        with ctx.db() as db:  # the draft first: a file it no longer holds is deleted after
            drafts.save(db, session, draft)
            files.keep(db, session.row.id, draft.all_files())
    except BaseException:
        cases.delete_blobs(ctx.blobs, [f.blob_id for kept in received.values() for f in kept])
        raise
    with ctx.db() as db:
        files.drop(db, ctx.blobs, gone)
    earlier = _answers_before(stored, draft, index)
    if back:
        before = previous_step(definition, earlier, index)
        return Outcome(go=index if before is None else before)
    chosen = files.attached(draft.files)
    read, errors = validate_step(definition, index, raw, earlier=earlier, files=chosen)
    errors = {**errors, **file_errors}
    answers = earlier.merged(read.values)
    now_shown = frozenset(f.id for f in visible_fields(definition.steps[index], answers))
    if now_shown != shown:
        # Fields appeared or went: show the step again; errors only for fields it had shown.
        kept = {path: e for path, e in errors.items() if path.split("[")[0].split(".")[0] in shown}
        return Outcome(page=_page(stored, draft, index, raw, kept))
    if errors:
        return Outcome(page=_page(stored, draft, index, raw, errors))
    message = stop_message(definition, answers, locale, DEFAULT_LOCALE, through_step=index)
    if message is not None:
        return Outcome(stop=message)
    after = next_step(definition, answers, index)
    return Outcome(go=REVIEW if after is None else after)


def _take_files(
    ctx: OrgContext,
    fields: Sequence[Field],
    draft: Draft,
    received: Mapping[str, Sequence[KeptFile]],
) -> tuple[dict[str, FieldError], list[KeptFile]]:
    """Put the files chosen on a step into the draft: a field's new files replace the ones
    it kept, unless they break its limits (then they go, the others stay, and the field
    gets an error). Files for anything but a file field of the step go too. Returns the
    errors and the files to delete once the draft no longer holds them."""
    by_id = {f.id: f for f in fields if f.type is FieldType.FILE}
    errors: dict[str, FieldError] = {}
    gone: list[KeptFile] = []
    for name, chosen in received.items():
        item = by_id.get(name)
        if not chosen:
            continue
        if item is None:
            gone += chosen
            continue
        most = item.max_files or DEFAULT_MAX_FILES
        largest = min(item.max_size or ctx.config.max_file_size, ctx.config.max_file_size)
        others = sum(f.size for k, kept in draft.files.items() if k != name for f in kept)
        if len(chosen) > most:
            errors[name] = FieldError(TOO_MANY_FILES, (("num", most),))
        elif any(f.size > largest for f in chosen):
            errors[name] = FieldError(FILE_TOO_LARGE, (("size", ByteCount(largest)),))
        elif others + sum(f.size for f in chosen) > ctx.config.max_submission_size:
            limit = ByteCount(ctx.config.max_submission_size)
            errors[name] = FieldError(FILES_TOO_LARGE, (("size", limit),))
        if name in errors:
            gone += chosen
        else:
            gone += draft.files.get(name, [])
            draft.files[name] = list(chosen)
    return errors, gone


def review(
    ctx: OrgContext, session: SessionState | None, channel_id: str, *, locale: str
) -> ReviewPage:
    session = _check_session(session)
    stored = _current_open(ctx, channel_id)
    draft = _draft(ctx, session, stored)
    return _review(stored, draft, locale)


def _review(stored: store.Stored, draft: Draft, locale: str) -> ReviewPage:
    collected = collect(stored.definition, draft.steps, files.attached(draft.files))
    shown = visible_steps(stored.definition, collected.answers)
    return ReviewPage(
        stored=stored,
        answers=collected.answers,
        text=render_text(stored.definition, collected.answers, locale, DEFAULT_LOCALE),
        last_step=shown[-1] if shown else 0,
        errors=collected.errors,
        stop=stop_message(stored.definition, collected.answers, locale, DEFAULT_LOCALE),
    )


def _sent_files(definition: Definition, answers: Answers, draft: Draft) -> list[KeptFile]:
    """The kept files that the answers hold (a field hidden meanwhile holds none)."""
    sent = []
    for step in definition.steps:
        for item in step.fields:
            if item.type is FieldType.FILE and item.id in answers:
                sent += draft.files.get(item.id, [])
    return sent


def first_problem(page: ReviewPage) -> int | None:
    """The first step with errors, or None."""
    return min(page.errors) if page.errors else None


def send(
    ctx: OrgContext,
    session: SessionState | None,
    channel_id: str,
    *,
    locale: str,
    token: str | None,
) -> str:
    """Seal the answers into the source's new case (routed, if an answer routes it to an
    open channel, and only to the recipients an answer names, if it names any of that
    channel's) and forget the draft; returns the source's id. Answers with errors or a
    stop are refused (the web layer shows the step concerned)."""
    session = _check_session(session)
    stored = _current_open(ctx, channel_id)
    draft = _draft(ctx, session, stored)
    page = _review(stored, draft, locale)
    if page.errors or page.stop is not None or not page.answers:
        raise InvalidInput("Some answers are missing or need a correction.")
    target = _routed_channel(ctx, stored, page.answers) or channel_id
    form = seal_form(stored.ref, stored.definition, page.answers)
    # The readable copy leaves the identity answers out: they are sealed apart (``identity``).
    apart = {f.id for f in stored.definition.fields() if f.identity}
    readable = render_text(
        stored.definition,
        Answers({key: value for key, value in page.answers.items() if key not in apart}),
        DEFAULT_LOCALE,
        DEFAULT_LOCALE,
        version_hash=stored.ref.hash,
        file_refs=True,
    )
    attached = _sent_files(stored.definition, page.answers, draft)
    uploads: list[sealing.ItemUpload] = []
    try:
        items = []
        for data, name, kind in (
            (form.answers.decode(), ANSWERS_NAME, ANSWERS_TYPE),
            (readable, TEXT_NAME, TEXT_TYPE),
        ):
            upload = sealing.seal_text(ctx.blobs, data)
            uploads.append(upload)
            items.append(sealing.file_item(upload, name, kind))
        # The identity answers are sealed apart, for custodians only (``identity``).
        identity = None
        if form.identity:
            upload = sealing.seal_text(ctx.blobs, form.identity.decode())
            uploads.append(upload)
            identity = sealing.file_item(upload, IDENTITY_NAME, IDENTITY_TYPE)
        for kept in attached:  # recorded under the item ids that the answers name
            items.append(sealing.file_item(files.KeptUpload(kept), kept.name, kept.content_type))
        source_id = submissions.store(
            ctx,
            session,
            target,
            items,
            None,
            uploads=uploads,
            locale=locale,
            token=token,
            answered=True,
            choice=submissions.Choice(routed=route(stored.definition, page.answers).recipients),
            identity=identity,
            also=lambda db: counts.record(db, stored, page.answers, now=ctx.now()),
        )
    except BaseException:
        cases.delete_blobs(ctx.blobs, [u.blob_id for u in uploads])
        raise
    with ctx.db() as db:
        files.release(db, [f.blob_id for f in attached])
        files.drop(db, ctx.blobs, [f for f in draft.all_files() if f not in attached])
        drafts.discard(db, session)
    return source_id


def _routed_channel(
    ctx: OrgContext, stored: store.Stored, answers: Mapping[str, object]
) -> str | None:
    """The open channel an answer routes the case to (by name), if any."""
    name = route(stored.definition, answers).channel
    if name is None:
        return None
    with ctx.db() as db:
        for channel in channels.open_channels(db):
            if channel.name == name:
                return channel.id
    return None
