"""Drive the source interface the way a browser without JavaScript does."""

from __future__ import annotations

import os
import re
from html import unescape
from pathlib import Path
from typing import Any

import httpx

CSRF_RE = re.compile(r'name="csrf" value="([^"]*)"')
CODENAME_RE = re.compile(r'<p class="codename" id="codename" lang="[^"]+">([^<]+)</p>')


def csrf(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in page"
    return match[1]


def new_source(client: httpx.Client) -> str:
    """Get a codename (and a session) as a first-time source."""
    page = client.post("/new")
    assert page.status_code == 200, page.text
    match = CODENAME_RE.search(page.text)
    assert match
    return unescape(match[1])


def submit(
    client: httpx.Client,
    message: str = "",
    files: list[tuple[str, bytes, str]] | None = None,
    channel: str | None = None,
) -> httpx.Response:
    form = client.get("/submit")
    assert form.status_code == 200, form.text
    data = {"csrf": csrf(form.text), "message": message}
    if channel:
        data["channel"] = channel
    parts = [("files", (name, content, ctype)) for name, content, ctype in files or []]
    # A browser always sends the file input, with an empty part when nothing was chosen.
    empty = [("files", ("", b"", "application/octet-stream"))]
    return client.post("/submit", data=data, files=parts or empty)


def login(client: httpx.Client, codename: str) -> httpx.Response:
    return client.post("/login", data={"codename": codename})


def find_case(api: httpx.Client, message: str) -> dict[str, Any]:
    """The case whose first message is ``message`` (cases are listed by pseudonym only).

    ``api`` is a client rooted at ``/api/v1`` (``LiveServer.api_client``).
    """
    listing = api.get("/cases", params={"limit": 200})
    assert listing.status_code == 200, listing.text
    for summary in listing.json()["cases"]:
        detail = api.get(f"/cases/{summary['id']}").json()
        if any(item["kind"] == "message" and item["text"] == message for item in detail["items"]):
            return dict(detail)
    raise AssertionError(f"no case with message {message!r}")


def files_under(root: Path) -> list[Path]:
    """The files under ``root`` now. The server removes a blob bucket's directory as it
    empties, so a listing must not fail on one that disappears while it is walked (os.walk
    skips it; ``Path.rglob`` raises)."""
    return sorted(Path(folder) / name for folder, _, names in os.walk(root) for name in names)
