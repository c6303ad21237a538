"""ZIP archives: the archive's own metadata, and each member inspected in turn.

Members of a known type are inspected like a file of their own (ZIPs inside ZIPs up to
``MAX_NESTING`` levels); their findings are prefixed with the member's name. A clean copy
holds every member, each of a known type replaced by its clean copy; members of unknown type
are copied as they are, and the report of the original names them, since nothing was said
about them.
"""

from __future__ import annotations

from collections.abc import Callable

from mailslot.documents.detect import UNKNOWN, detect_type
from mailslot.documents.errors import DocumentError, NotSanitisable
from mailslot.documents.findings import Findings
from mailslot.documents.parsing import MAX_NESTING
from mailslot.documents.xmp import user_path
from mailslot.documents.zipparts import Member, container_findings, members, write_zip


def inspect_zip(data: bytes, depth: int = 0) -> Findings:
    # Imported here: inspection of a member dispatches on its type, which includes ZIP.
    from mailslot.documents.inspect import findings_for  # noqa: PLC0415

    infos, parts = members(data, "zip")
    found = container_findings(data, infos, "zip")
    unknown = []
    for name, content in parts.items():
        type_ = detect_type(content, name)
        if type_ == UNKNOWN:
            unknown.append(name)
            continue
        if type_ == "zip" and depth + 1 >= MAX_NESTING:
            found.note(f"{name}: an archive nested too deeply was not inspected")
            continue
        try:
            inner = (
                inspect_zip(content, depth + 1) if type_ == "zip" else findings_for(content, type_)
            )
        except DocumentError as exc:
            found.note(f"{name}: not inspected ({exc})")
            continue
        found.extend(inner, prefix=f"{name}: ")
    if unknown:
        shown = ", ".join(unknown[:10]) + (" …" if len(unknown) > 10 else "")
        found.note(f"{len(unknown)} member(s) of unknown type not inspected: {shown}")
    return found


def sanitise_zip(data: bytes, clean: Callable[[bytes, str], bytes], depth: int = 0) -> bytes:
    infos, parts = members(data, "zip")
    out: list[Member] = []
    for info in infos:
        if info.filename not in parts:
            continue
        content = parts[info.filename]
        type_ = detect_type(content, info.filename)
        if type_ == "zip":
            if depth + 1 >= MAX_NESTING:
                raise NotSanitisable(f"zip: {info.filename} is an archive nested too deeply")
            content = sanitise_zip(content, clean, depth + 1)
        elif type_ != UNKNOWN:
            try:
                content = clean(content, type_)
            except DocumentError as exc:
                raise NotSanitisable(f"zip: member {info.filename}: {exc}") from exc
        out.append(Member(_without_user_folder(info.filename, out), content, compressed=True))
    return write_zip(out)


def _without_user_folder(name: str, taken: list[Member]) -> str:
    """``Users/alice/notes.md`` becomes ``notes.md``: a member's path must not name whose
    folder it came from. A name already taken gets a number."""
    user = user_path(name)
    if not user:
        return name
    rest = name.replace("\\", "/")[len(user.lstrip("/")) :].lstrip("/") or "file"
    names = {m.name for m in taken}
    candidate, number = rest, 1
    while candidate in names:
        number += 1
        candidate = f"{number}-{rest}"
    return candidate
