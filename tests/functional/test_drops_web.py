"""Sealed drops on a real server: the published keys and their signed chain, a courier's
upload with JavaScript off (an httpx form post, as a browser without scripts sends it) of a
file sealed by an independent age implementation (``age-encryption`` from npm), a drop sent
through the normal source form, recipients reading them, key rotation, and who may not."""

from __future__ import annotations

import io
import json
import re
import tarfile
import zipfile
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pypdfium2
import pytest
from click.testing import CliRunner, Result
from PIL import Image
from sqlalchemy import func, inspect, select

from mailslot import drops
from mailslot.audit.models import AuditEvent
from mailslot.cli.main import main as cli_main
from mailslot.db.models import Base
from mailslot.dropkeys import card
from mailslot.recipients.models import User
from tests.conftest import Account, LiveServer
from tests.functional.helpers import new_source, submit
from tests.functional.test_browser import browser, open_session  # noqa: F401 - fixtures
from tests.unit.drops.test_interop import Node, node  # noqa: F401 - the fixture

pytestmark = pytest.mark.timeout(600)

FINGERPRINT_RE = re.compile(r'id="signing-fingerprint"><code>([0-9a-f ]+)</code>')
KEY_RE = re.compile(r'<pre class="key" id="drop-key-\d+">(age1pq1[0-9a-z]+)</pre>')


def tar_drop(note: str, files: dict[str, bytes]) -> bytes:
    """A drop's tar, as ``mailslot seal`` lays it out, made here with the standard library."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in [
            ("note.txt", note.encode()),
            *((f"files/{n}", d) for n, d in files.items()),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def published(server: LiveServer) -> tuple[str, list[str], list[drops.Manifest]]:
    """The signing fingerprint and drop keys on /keys, and the chain from /keys.json."""
    page = httpx.get(f"{server.source_url}/keys", timeout=60)
    assert page.status_code == 200, page.text
    match = FINGERPRINT_RE.search(page.text)
    assert match, page.text
    keys = KEY_RE.findall(page.text)
    chain_file = httpx.get(f"{server.source_url}/keys.json", timeout=60)
    assert chain_file.status_code == 200
    assert chain_file.headers["content-type"].startswith("application/json")
    return match[1], keys, drops.load_chain(chain_file.content)


def courier_upload(server: LiveServer, name: str, data: bytes) -> httpx.Response:
    """The /drop form as a browser with JavaScript off posts it: no session, no cookie."""
    with httpx.Client(base_url=server.source_url, timeout=60) as client:
        form = client.get("/drop")
        assert form.status_code == 200
        assert "codename" in form.text
        assert 'name="files"' in form.text
        return client.post("/drop", files=[("files", (name, data, "application/octet-stream"))])


def case_with_file(api: httpx.Client, filename: str) -> tuple[str, dict[str, object]]:
    for summary in api.get("/cases", params={"limit": 200}).json()["cases"]:
        detail = api.get(f"/cases/{summary['id']}").json()
        for item in detail["items"]:
            if item["filename"] == filename:
                return str(detail["id"]), dict(item)
    raise AssertionError(f"no case with {filename}")


@pytest.fixture(scope="module")
def ana(server: LiveServer) -> Account:
    return server.add_user("recipient")


@pytest.fixture(scope="module")
def ana_api(server: LiveServer, ana: Account) -> Iterator[httpx.Client]:
    client = server.api_client(ana)
    yield client
    client.close()


@pytest.fixture(scope="module")
def ana_web(server: LiveServer, ana: Account) -> Iterator[httpx.Client]:
    client = server.staff_client(ana)
    yield client
    client.close()


def test_keys_are_published_signed_and_the_chain_verifies(server: LiveServer, ana: Account) -> None:
    fingerprint, keys, chain = published(server)
    latest = drops.verify_chain(chain, fingerprint)
    assert [c.name for c in latest.channels] == ["default"]
    assert keys == [latest.channel("default").drop_recipient]
    # Recipients are named by an opaque id, never by the username they log in with.
    assert f"recipient-{ana.id}" in {r.name for r in latest.recipients}
    assert ana.username not in httpx.get(f"{server.source_url}/keys.json", timeout=60).text
    # Publishing again with nothing changed appends nothing.
    assert len(published(server)[2]) == len(chain)


def row_counts(server: LiveServer) -> dict[str, int]:
    """How many rows each table of the organisation's database holds."""
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            present = set(inspect(db.connection()).get_table_names())
            return {
                table.name: int(db.scalar(select(func.count()).select_from(table)) or 0)
                for table in Base.metadata.sorted_tables
                if table.name in present
            }
    finally:
        runtime.close()


def test_a_drop_sealed_by_npm_age_is_uploaded_by_a_courier_and_read_by_a_recipient(
    server: LiveServer,
    ana: Account,
    node: Node,  # noqa: F811
    ana_api: httpx.Client,
    ana_web: httpx.Client,
) -> None:
    _, keys, _ = published(server)
    report = b"The troops left on Tuesday.\n" * 1000
    sealed = node("encrypt", keys[0], data=tar_drop("From the north.", {"report.txt": report}))
    assert sealed.startswith(b"age-encryption.org/v1\n-> mlkem768x25519 ")
    sent = courier_upload(server, "courier-drop.age", sealed)
    assert sent.status_code == 303
    assert sent.headers["location"].endswith("/dropped")

    case_id, item = case_with_file(ana_api, "courier-drop.age")
    web = ana_web
    page = web.get(f"/cases/{case_id}")
    assert "Sealed drop: courier-drop.age" in unescape(page.text)
    drop_page = web.get(f"/cases/{case_id}/items/{item['id']}/drop")
    assert drop_page.status_code == 200
    assert "From the north." in drop_page.text
    assert "report.txt" in drop_page.text
    link = re.search(rf'href="(/cases/{case_id}/items/{item["id"]}/drop/\d+)"', drop_page.text)
    assert link
    file = web.get(link[1])
    assert file.status_code == 200
    assert file.content == report
    assert "attachment" in file.headers["content-disposition"]
    # Opening the drop and downloading its file are in the audit trail, by item and entry.
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            details = [
                json.loads(e.detail)
                for e in db.scalars(
                    select(AuditEvent).where(
                        AuditEvent.case_id == case_id, AuditEvent.action == "case.download"
                    )
                )
            ]
    finally:
        runtime.close()
    assert {"item_id": item["id"]} in details
    assert any(d.get("entry") is not None and d["item_id"] == item["id"] for d in details)
    # The zip of the case holds the sealed file and, after it, what it holds.
    with zipfile.ZipFile(io.BytesIO(web.get(f"/cases/{case_id}/download-all").content)) as zipped:
        names = zipped.namelist()
        [sealed_name] = [n for n in names if n.endswith("courier-drop.age")]
        assert zipped.read(sealed_name) == sealed
        assert zipped.read(f"{sealed_name}.contents/note.txt") == b"From the north."
        assert zipped.read(f"{sealed_name}.contents/files/report.txt") == report
    # The API shows the same.
    assert item["sealed_drop"] is True
    listed = ana_api.get(f"/cases/{case_id}/items/{item['id']}/drop").json()
    assert listed["problem"] is None
    assert listed["note"] == "From the north."
    assert [f["name"] for f in listed["files"]] == ["report.txt"]
    index = listed["files"][0]["index"]
    assert ana_api.get(f"/cases/{case_id}/items/{item['id']}/drop/{index}").content == report


def test_a_plain_age_file_sent_through_the_source_form_is_a_drop_of_one_file(
    server: LiveServer,
    ana: Account,
    node: Node,  # noqa: F811
    ana_api: httpx.Client,
    ana_web: httpx.Client,
) -> None:
    _, keys, _ = published(server)
    photo = bytes(range(256)) * 300
    sealed = node("encrypt", keys[0], data=photo)
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        new_source(source)
        sent = submit(
            source, "with a sealed file", [("photo.jpg.age", sealed, "application/octet-stream")]
        )
        assert sent.status_code == 303, sent.text
    case_id, item = case_with_file(ana_api, "photo.jpg.age")
    web = ana_web
    listing = web.get(f"/cases/{case_id}/items/{item['id']}/drop")
    assert "photo.jpg" in listing.text
    assert web.get(f"/cases/{case_id}/items/{item['id']}/drop/0").content == photo
    # An ordinary file is not a drop, and has no drop page.
    assert web.get(f"/cases/{case_id}/items/{item['id']}/drop/1").status_code == 404


def test_the_courier_page_refuses_what_is_not_sealed_and_stores_nothing(
    server: LiveServer, ana: Account, ana_api: httpx.Client
) -> None:
    before = len(ana_api.get("/cases", params={"limit": 200}).json()["cases"])
    refused = courier_upload(server, "plain.pdf", b"%PDF-1.7 not sealed")
    assert refused.status_code == 400
    assert "is not a sealed file" in unescape(refused.text)
    fake = courier_upload(server, "fake.age", b"age-encryption.org/v1\n-> X25519 broken\n")
    assert fake.status_code == 400
    after = len(ana_api.get("/cases", params={"limit": 200}).json()["cases"])
    assert after == before


def test_a_drop_sealed_to_a_key_nobody_here_holds_says_so(
    server: LiveServer, ana: Account, ana_api: httpx.Client, ana_web: httpx.Client
) -> None:
    stranger = drops.DropKeyPair.generate()
    sealed = b"".join(drops.seal_stream([stranger.recipient], [b"not for this desk"]))
    assert courier_upload(server, "stray.age", sealed).status_code == 303
    case_id, item = case_with_file(ana_api, "stray.age")
    page = ana_web.get(f"/cases/{case_id}/items/{item['id']}/drop")
    assert page.status_code == 200
    assert "Sealed to a key this channel does not hold." in page.text
    listed = ana_api.get(f"/cases/{case_id}/items/{item['id']}/drop").json()
    assert listed == {"problem": "not_held", "note": None, "files": []}


def test_a_damaged_drop_says_so_and_is_no_error_page(
    server: LiveServer, ana_api: httpx.Client, ana_web: httpx.Client
) -> None:
    _, keys, _ = published(server)
    whole = b"".join(drops.seal_stream([drops.PqRecipient.parse(keys[0])], [b"y" * 200_000]))
    assert courier_upload(server, "cut.age", whole[:-5000]).status_code == 303  # cut short
    case_id, item = case_with_file(ana_api, "cut.age")
    page = ana_web.get(f"/cases/{case_id}/items/{item['id']}/drop")
    assert page.status_code == 200
    assert "damaged or not complete" in page.text
    listed = ana_api.get(f"/cases/{case_id}/items/{item['id']}/drop").json()
    assert listed["problem"] == "damaged"
    # Its file, asked for directly, is cut short where the damage is found, as any item's.
    with pytest.raises(httpx.RemoteProtocolError):
        ana_web.get(f"/cases/{case_id}/items/{item['id']}/drop/0")


def test_rotation_keeps_old_drops_readable_and_others_cannot_read(
    server: LiveServer, ana: Account, ana_api: httpx.Client, ana_web: httpx.Client
) -> None:
    fingerprint, keys, chain = published(server)
    old_key = keys[0]
    old = b"".join(drops.seal_stream([drops.PqRecipient.parse(old_key)], [b"sealed before"]))
    assert courier_upload(server, "before.age", old).status_code == 303

    ben = server.add_user("recipient")  # joins "default": a new drop key, a new version
    fingerprint2, keys2, chain2 = published(server)
    assert fingerprint2 == fingerprint
    assert keys2[0] != old_key
    assert len(chain2) == len(chain) + 1
    assert chain2[: len(chain)] == chain  # old versions stay served, unchanged
    assert drops.verify_chain(chain2, fingerprint).channel("default").drop_recipient == keys2[0]

    new = b"".join(drops.seal_stream([drops.PqRecipient.parse(keys2[0])], [b"sealed after"]))
    assert courier_upload(server, "after.age", new).status_code == 303
    ben_web = server.staff_client(ben)
    request_closes = [ben_web]
    case_old, item_old = case_with_file(ana_api, "before.age")
    case_new, item_new = case_with_file(ana_api, "after.age")
    for case_id, item, text in ((case_old, item_old, "before"), (case_new, item_new, "after")):
        assert ana_web.get(f"/cases/{case_id}/items/{item['id']}/drop/0").content == (
            b"sealed " + text.encode()
        )
    # Ben holds the new case and the new key, never the old drop key.
    assert (
        ben_web.get(f"/cases/{case_new}/items/{item_new['id']}/drop/0").content == b"sealed after"
    )
    assert ben_web.get(f"/cases/{case_old}/items/{item_old['id']}/drop").status_code == 404

    # A recipient of another channel reaches neither case.
    server.add_channel("elsewhere-drops", ())
    carl = server.add_user("recipient", channels=("elsewhere-drops",))
    carl_web = server.staff_client(carl)
    request_closes.append(carl_web)
    assert carl_web.get(f"/cases/{case_new}/items/{item_new['id']}/drop").status_code == 404
    assert carl_web.get(f"/cases/{case_new}/items/{item_new['id']}/drop/0").status_code == 404
    # Publishing again gives "elsewhere-drops" its own key.
    _, keys3, _ = published(server)
    assert len(keys3) == 2
    for client in request_closes:
        client.close()


def test_keys_change_where_members_change_and_publishing_writes_nothing(
    server: LiveServer, ana: Account
) -> None:
    """``channels add`` with a recipient publishes the channel's key at once: no visit to
    ``/keys`` is needed first, and visits to ``/keys`` and ``/keys.json`` write nothing."""
    before = drops.load_chain(httpx.get(f"{server.source_url}/keys.json", timeout=60).content)
    name = server.unique("published-")
    server.add_channel(name, (ana.username,))
    counts = row_counts(server)
    chain = drops.load_chain(httpx.get(f"{server.source_url}/keys.json", timeout=60).content)
    assert len(chain) == len(before) + 1
    assert chain[-1].channel(name).drop_recipient.startswith("age1pq1")
    for path in ("/keys", "/keys.json", "/keys", "/keys.json"):
        assert httpx.get(f"{server.source_url}{path}", timeout=60).status_code == 200
    assert row_counts(server) == counts


def test_staff_see_their_own_and_their_colleagues_fingerprints(
    server: LiveServer, ana: Account, ana_web: httpx.Client
) -> None:
    page = ana_web.get("/keys")
    assert page.status_code == 200
    mine = re.search(r'<tr id="my-key"><td>([^<]+)', page.text)
    assert mine
    assert mine[1].strip() == ana.username
    fingerprint, _, _chain = published(server)
    assert fingerprint in page.text
    own = drops.recipient_fingerprint(_public_key(server, ana))
    assert own in page.text
    assert f"<code>recipient-{ana.id}</code>" in page.text


def test_drop_cards_on_the_web_and_from_the_command_line(
    server: LiveServer, ana: Account, tmp_path: Path
) -> None:
    """``/keys/card`` shows every channel's card with its QR code inline (segno's code for
    the recipient) and no script; ``mailslot keys card`` writes the PDF, and a PNG for one
    channel; both carry the fingerprint."""
    fingerprint, _keys, chain = published(server)
    page = httpx.get(f"{server.source_url}/keys/card", params={"lang": "de"}, timeout=60)
    assert page.status_code == 200
    assert "<script" not in page.text
    assert fingerprint in page.text
    latest = chain[-1]
    for entry in latest.channels:
        expected = card.DropCard(
            "", "", entry.name, entry.drop_recipient, fingerprint, latest.version, ()
        ).qr_svg()
        assert expected in page.text  # the QR code of exactly this recipient
        assert entry.drop_recipient in page.text
    assert f"<code>{server.source_url}/drop</code>" in page.text
    assert 'lang="de"' in page.text
    assert 'href="/drop/how' in page.text
    how = httpx.get(f"{server.source_url}/drop/how", timeout=60)
    assert how.status_code == 200
    assert "age -R key.txt -o report.age report.zip" in how.text
    for linked in ("/keys", "/drop"):
        assert 'href="/drop/how' in httpx.get(f"{server.source_url}{linked}", timeout=60).text

    def keys_card(*args: str) -> Result:
        # In this process (as the CLI runs it, with the server's environment): no interpreter
        # to start for each card.
        command = ["keys", "card", *args]
        return CliRunner().invoke(cli_main, command, env=server.env, catch_exceptions=False)

    made = keys_card("--out", str(tmp_path / "cards.pdf"), "--lang", "en", "--lang", "fa")
    assert made.exit_code == 0, made.output
    data = (tmp_path / "cards.pdf").read_bytes()
    with pikepdf.open(io.BytesIO(data)) as document:
        assert len(document.pages) == len(latest.channels)
    pdf = pypdfium2.PdfDocument(data)
    try:
        assert fingerprint in pdf[0].get_textpage().get_text_range()
    finally:
        pdf.close()
    if len(latest.channels) > 1:  # a PNG holds one card: the channel must be named
        refused = keys_card("--out", str(tmp_path / "all.png"))
        assert refused.exit_code == 1
        assert "--channel" in refused.output
    made = keys_card("--out", str(tmp_path / "card.png"), "--channel", "default")
    assert made.exit_code == 0, made.output
    with Image.open(tmp_path / "card.png") as picture:
        assert picture.text["Signing-key fingerprint"] == fingerprint  # type: ignore[attr-defined]
        assert picture.text["Drop recipient"] == latest.channel("default").drop_recipient  # type: ignore[attr-defined]
    again = keys_card("--out", str(tmp_path / "card.png"), "--channel", "default")
    assert again.exit_code == 1  # never overwritten
    assert "Cannot create" in again.output


def _public_key(server: LiveServer, account: Account) -> bytes:
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            return bytes(db.get(User, account.id).public_key)  # type: ignore[union-attr]
    finally:
        runtime.close()


@pytest.mark.browser
def test_a_courier_sends_a_drop_with_javascript_off(
    server: LiveServer,
    open_session: Any,  # noqa: F811
    ana_api: httpx.Client,
    tmp_path: Path,
) -> None:
    """Chromium with JavaScript off: the keys page, then the courier page and its answer."""
    session = open_session(server.source_url)
    page = session.page
    page.goto(server.source_url + "/keys")
    recipient = page.locator("#drop-key-1").inner_text().strip()
    assert recipient.startswith("age1pq1")
    sealed = tmp_path / "from-the-border.age"
    sealed.write_bytes(
        b"".join(drops.seal_stream([drops.PqRecipient.parse(recipient)], [b"carried out"]))
    )
    page.goto(server.source_url + "/drop")
    assert "You do not need a codename" in page.content()
    page.locator("#drop-files").set_input_files(str(sealed))
    if page.get_by_role("radio").count():  # an earlier test opened a second channel
        page.get_by_role("radio", name="default").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Send").click()
    assert page.url == server.source_url + "/dropped"
    assert session.cookies("mailslot_source") == []  # a courier gets no session
    session.assert_no_third_party()
    case_id, item = case_with_file(ana_api, "from-the-border.age")
    content = ana_api.get(f"/cases/{case_id}/items/{item['id']}/drop/0")
    assert content.content == b"carried out"
