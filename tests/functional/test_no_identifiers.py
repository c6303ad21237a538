"""No client identifier is stored or logged, even with debug logging on.

A server of its own (``MAILSLOT_LOG_LEVEL=debug``) is driven through a whole scenario by
clients that connect from 127.0.0.2 (the server listens on 127.0.0.1, so the only way that
address can reach a file is by being read from the connection) and that send distinctive
values in every header a proxy or browser might use to identify someone. Then every file the
server wrote (database, WAL and shared memory, blobs, the log, its TMPDIR) is searched for
each marker as UTF-8, UTF-16, hex and base64, both while the server runs and after it stops.
"""

from __future__ import annotations

import base64
import socket
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import Account, LiveServer, start_server, stop_server
from tests.functional.helpers import csrf, find_case, login, new_source, submit

CLIENT_ADDRESS = "127.0.0.2"
USER_AGENT = "Mozilla/5.0 (MarkerOS) UA-ZQXJ-4711"
FORWARDED_FOR = "203.0.113.77, 198.51.100.23"
REAL_IP = "192.0.2.199"
FORWARDED = "for=192.0.2.211;proto=https;by=203.0.113.5"
CLIENT_IP = "192.0.2.232"
REFERER = "http://referer-marker.example/zqxj-ref-page"
COOKIE_JUNK = "trackme=COOKIEJUNK-ZQXJ-99"
ACCEPT_LANGUAGE = "en-US,en;q=0.9,x-zqxj-lang;q=0.1"
PATH_MARKER = "zqxj-path-marker"
IDENTIFYING_HEADERS = {
    "User-Agent": USER_AGENT,
    "X-Forwarded-For": FORWARDED_FOR,
    "X-Real-IP": REAL_IP,
    "Forwarded": FORWARDED,
    "X-Client-IP": CLIENT_IP,
    "True-Client-IP": CLIENT_IP,
    "Via": "1.1 via-zqxj-proxy",
    "Referer": REFERER,
    "Accept-Language": ACCEPT_LANGUAGE,
}
MARKERS = [
    "UA-ZQXJ-4711",
    "MarkerOS",
    "203.0.113.77",
    "198.51.100.23",
    REAL_IP,
    "192.0.2.211",
    "203.0.113.5",
    CLIENT_IP,
    "via-zqxj-proxy",
    "referer-marker",
    "zqxj-ref-page",
    "COOKIEJUNK-ZQXJ",
    "x-zqxj-lang",
    PATH_MARKER,
    CLIENT_ADDRESS,
]
MESSAGE = "A message for the no-identifiers scenario."


def encodings(marker: str) -> dict[str, bytes]:
    raw = marker.encode()
    forms = {
        "utf-8": raw,
        "utf-8 lower": marker.lower().encode(),
        "utf-16-le": marker.encode("utf-16-le"),
        "utf-16-be": marker.encode("utf-16-be"),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
    }
    # base64 of the marker at any alignment: keep the groups made of marker bytes only.
    for shift in range(3):
        encoded = base64.b64encode(b"\x00" * shift + raw)
        first, last = -(-shift // 3), (shift + len(raw)) // 3
        forms[f"base64+{shift}"] = encoded[first * 4 : last * 4]
    return forms


def packed_addresses() -> dict[str, bytes]:
    """IPv4 markers as four packed bytes: worth a look in the database, not in ciphertext."""
    found = {}
    for marker in MARKERS:
        try:
            found[marker + " packed"] = socket.inet_aton(marker)
        except OSError:
            continue
    return found


def written_files(base: Path) -> list[Path]:
    return sorted(p for p in base.rglob("*") if p.is_file())


def search(files: list[Path]) -> list[str]:
    needles = {f"{m} as {kind}": b for m in MARKERS for kind, b in encodings(m).items()}
    packed = packed_addresses()
    hits = []
    for path in files:
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # the WAL can go away while we look
            continue
        lowered = data.lower()
        for name, needle in needles.items():
            if needle in data or (name.endswith("utf-8 lower") and needle in lowered):
                hits.append(f"{path.name}: {name}")
        if "blobs" not in path.parts:
            hits += [f"{path.name}: {name}" for name, b in packed.items() if b in data]
    return hits


@dataclass
class Run:
    server: LiveServer
    base: Path
    files_while_running: list[Path]
    hits_while_running: list[str]


def client(base_url: str, cookie_junk: bool = True) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS)
    headers = dict(IDENTIFYING_HEADERS)
    return httpx.Client(
        base_url=base_url,
        headers=headers,
        cookies={"trackme": "COOKIEJUNK-ZQXJ-99"} if cookie_junk else None,
        transport=transport,
        timeout=60,
    )


def raw_request(url: str, request: bytes) -> bytes:
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as sock:
        sock.bind((CLIENT_ADDRESS, 0))
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        assert sock.getsockname()[0] == CLIENT_ADDRESS
        sock.sendall(request)
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except TimeoutError:
            pass
    return reply


def source_visit(server: LiveServer) -> str:
    with client(server.source_url) as source:
        assert source.get("/").status_code == 200
        assert source.get("/new").status_code == 200
        codename = new_source(source)
        sent = submit(
            source, MESSAGE, files=[("notes.txt", b"file for the scenario", "text/plain")]
        )
        assert sent.status_code == 303, sent.text
        assert source.get("/submitted").status_code == 200
        forged = source.post("/logout", headers={"Origin": "http://evil-zqxj.example"})
        assert forged.status_code == 403
        assert source.get(f"/{PATH_MARKER}").status_code == 404
        assert source.delete("/").status_code == 405
        assert source.post("/logout").status_code == 303
        wrong = source.post("/login", data={"codename": "wrong words " * 3})
        assert wrong.status_code == 401
    return codename


def staff_visit(server: LiveServer, member: Account) -> None:
    with client(server.staff_url) as staff:
        for password in ("wrong password one", "wrong password two"):
            failed = staff.post(
                "/login", data={"username": member.username, "password": password, "totp": "1"}
            )
            assert failed.status_code == 401
        signed_in = staff.post(
            "/login",
            data={
                "username": member.username,
                "password": member.password,
                "totp": server.totp.code(member.totp_secret),
            },
        )
        assert signed_in.status_code == 303
        assert staff.get("/").status_code == 200
        token = api_token(server, member)
        with client(f"{server.staff_url}/api/v1") as api:
            api.headers["Authorization"] = f"Bearer {token}"
            case = find_case(api, MESSAGE)
            file_item = next(i for i in case["items"] if i["kind"] == "file")
            url = f"/cases/{case['id']}"
            page = staff.get(url)
            assert page.status_code == 200
            assert staff.post(
                f"{url}/replies", data={"csrf": "forged", "text": "x"}
            ).status_code == (403)
            replied = staff.post(f"{url}/replies", data={"csrf": csrf(page.text), "text": "Hi."})
            assert replied.status_code == 303
            assert staff.get(f"{url}/items/{file_item['id']}/download").status_code == 200
            assert staff.get(f"{url}/download-all").status_code == 200
            assert staff.get(f"/{PATH_MARKER}").status_code == 404
            assert staff.get("/cases/" + "0" * 32).status_code == 404
            assert staff.get("/account").status_code == 200
            assert api.get(f"{url}/items/{file_item['id']}/content").status_code == 200
            assert api.post(f"{url}/replies", json={"text": "By API."}).status_code == 201
            assert api.post(f"{url}/replies", json={"nope": 1}).status_code == 422
            assert api.get("/cases", params={"limit": "many"}).status_code == 422
            assert api.get(f"/{PATH_MARKER}").status_code == 404
            with client(f"{server.staff_url}/api/v1") as stranger:
                bad = stranger.get("/cases", headers={"Authorization": "Bearer zqxj-bad-token"})
                assert bad.status_code == 401
            assert api.delete("/auth/token").status_code == 204
        assert staff.post("/logout").status_code == 303


def api_token(server: LiveServer, member: Account) -> str:
    with client(f"{server.staff_url}/api/v1") as api:
        response = api.post(
            "/auth/token",
            json={
                "username": member.username,
                "password": member.password,
                "totp": server.totp.code(member.totp_secret),
            },
        )
        assert response.status_code == 200, response.text
        return str(response.json()["token"])


def broken_requests(server: LiveServer) -> None:
    """Requests only the HTTP server sees: malformed, or cut off half way."""
    headers = "".join(f"{k}: {v}\r\n" for k, v in IDENTIFYING_HEADERS.items())
    for url in (server.source_url, server.staff_url):
        malformed = raw_request(
            url, f"GET / HTTP/1.1\r\nHost: x\r\n{headers}this line is not a header\r\n\r\n".encode()
        )
        assert malformed.startswith(b"HTTP/1.1 400"), malformed
        cut = raw_request(
            url,
            # Same-origin (as a browser's form post) so that the body is read, then cut off.
            f"POST /login HTTP/1.1\r\nHost: x\r\nOrigin: http://x\r\n{headers}Content-Type: "
            "application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ncodename=x".encode(),
        )
        assert b" 500 " not in cut.split(b"\r\n", 1)[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    base = tmp_path_factory.mktemp("no-identifiers")
    server = start_server(base, extra_env={"MAILSLOT_LOG_LEVEL": "debug"})
    try:
        member = server.add_user("recipient")
        codename = source_visit(server)
        staff_visit(server, member)
        with client(server.source_url) as source:
            assert login(source, codename).status_code == 303
            conversation = source.get("/conversation")
            assert "Hi." in conversation.text
            assert source.get("/exit").status_code == 303
        broken_requests(server)
        # On PostgreSQL the rows live in the database server: scan a dump of them too.
        server.dump_database(base / "database.dump")
        files = written_files(base)
        hits = search(files)
    finally:
        stop_server(server)
    return Run(server, base, files, hits)


def test_the_scenario_wrote_what_we_search(run: Run) -> None:
    """The search looks where the data really is, and debug logging was really on."""
    names = {p.name for p in run.files_while_running}
    assert "mailslot.sqlite3" in names or (
        run.server.database is not None and "database.dump" in names
    )
    assert any("blobs" in p.parts for p in run.files_while_running)
    assert "server.log" in names
    log = run.server.log_path.read_text(errors="replace")
    assert "DEBUG" in log, "debug logging was not on: MAILSLOT_LOG_LEVEL=debug had no effect"
    # The search itself finds a marker planted in a file.
    probe = run.base / "probe.bin"
    probe.write_bytes(b"xx" + "UA-ZQXJ-4711".encode("utf-16-le") + b"yy")
    try:
        assert search([probe]) == ["probe.bin: UA-ZQXJ-4711 as utf-16-le"]
    finally:
        probe.unlink()


def test_nothing_identifying_while_running(run: Run) -> None:
    assert run.hits_while_running == []


def test_nothing_identifying_after_stopping(run: Run) -> None:
    files = written_files(run.base)
    assert files
    assert search(files) == []


def test_errors_are_logged_without_tracebacks(run: Run) -> None:
    """The threat model promises that unexpected errors log only the exception's type: a
    traceback (or an exception's message) can carry request data into the log."""
    log = run.server.log_path.read_text(errors="replace")
    assert "Traceback" not in log
    assert "Exception in ASGI application" not in log
