"""Screenshots of the main staff pages for the README, desktop (1280 wide) and phone (390 wide).

    .venv/bin/python tools/screenshots.py                 # writes docs/screenshots/*.png
    .venv/bin/python tools/screenshots.py --out DIR

It builds a throwaway instance in a temporary directory (an administrator, two recipients,
two channels, ``mailslot demo-data`` cases and one case sent through the source interface),
starts ``mailslot serve`` on loopback, and drives Debian's Chromium (``/usr/bin/chromium``,
never a downloaded browser) through Playwright with JavaScript off. Every request to another
origin is refused. Each PNG is reduced to a 32-colour palette so the set stays small.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pyotp
from PIL import Image
from playwright.sync_api import sync_playwright

if TYPE_CHECKING:
    from playwright.sync_api import Browser, FloatRect, Page, Route

REPO = Path(__file__).resolve().parent.parent
# The benchmarks' way of starting a server on loopback (bench/_common.py), shared.
sys.path.insert(0, str(REPO / "bench"))
from _common import serving  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
WIDTHS = {"desktop": 1280, "phone": 390}
HEIGHTS = {"desktop": 800, "phone": 844}
MAX_HEIGHT = 2000  # CSS pixels: a long page is cut here (the case page is shown whole)
COLOURS = 32  # enough for the palette and anti-aliased text; each PNG stays small


def check(condition: object, message: str) -> None:
    if not condition:
        raise RuntimeError(message)


@dataclass
class Account:
    username: str
    password: str
    totp_secret: str


class Instance:
    """A data directory with accounts and cases, and the server once started."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MAILSLOT_")}
        self.env |= {
            "MAILSLOT_DATA_DIR": str(base / "data"),
            "MAILSLOT_LOG_LEVEL": "warning",
            "MAILSLOT_NEW_SOURCE_RATE": "0",
            "MAILSLOT_SUBMISSION_RATE": "0",
            "TMPDIR": str(base / "tmp"),
        }
        (base / "tmp").mkdir()
        self.used_codes: dict[str, int] = {}

    def cli(self, *args: str) -> str:
        out = subprocess.run(  # noqa: S603 - Mailslot's own CLI, arguments from this script
            [sys.executable, "-m", "mailslot.cli.main", *args],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=600,
        )
        return out.stdout.decode()

    def add_user(self, username: str, role: str) -> Account:
        password = "screenshot password " + secrets.token_hex(8)
        pw_file = self.base / "pw"
        pw_file.write_text(password + "\n")
        try:
            added = self.cli(
                "users", "add", "--username", username, "--role", role,
                "--password-file", str(pw_file), "--json",
            )  # fmt: skip
            data = json.loads(added)
        finally:
            pw_file.unlink()
        return Account(username, password, str(data["totp_secret"]))

    def code(self, account: Account) -> str:
        """A TOTP code the server has not seen for this account (each is accepted once)."""
        totp = pyotp.TOTP(account.totp_secret)
        while True:
            now = int(time.time()) // totp.interval
            for counter in (now, now + 1):
                if counter > self.used_codes.get(account.username, 0):
                    self.used_codes[account.username] = counter
                    return str(totp.generate_otp(counter))
            time.sleep(1)

    @contextlib.contextmanager
    def serve(self) -> Iterator[tuple[str, str]]:
        with serving(self.env, self.base / "server.log") as (_, _, urls):
            yield urls


def build(instance: Instance) -> tuple[dict[str, Account], str]:
    """The accounts, and the id of the channel the new tip goes to."""
    accounts = {
        "admin": instance.add_user("dana.admin", "admin"),
        "alice": instance.add_user("alice", "recipient"),
        "bob": instance.add_user("bob", "recipient"),
    }
    # Demo cases reach 18 months back: keep them all, or the first start purges some.
    keep = ("--retention-days", "3650", "--closed-retention-days", "3650")
    instance.cli("channels", "update", "--name", "default", *keep)
    created = instance.cli(
        "channels", "add", "--name", "Whistleblowing",
        "--description", "Reports of wrongdoing at work, as the law protects them.",
        "--recipient", "alice", "--recipient", "bob", *keep, "--json",
    )  # fmt: skip
    instance.cli(
        "channels", "add", "--name", "Press tips",
        "--description", "Tips for the newsroom.", "--recipient", "alice", *keep, "--json",
    )  # fmt: skip
    instance.cli("demo-data", "--cases", "60", "--seed", "15")
    return accounts, str(json.loads(created)["id"])


def send_a_tip(source_url: str, channel: str) -> None:
    """A fresh case with a message and a document, as a source sends it (no JavaScript)."""
    with httpx.Client(base_url=source_url, timeout=120) as client:
        client.post("/new", headers={"Origin": source_url})
        form = client.get("/submit")
        csrf = re.search(r'name="csrf" value="([^"]*)"', form.text)
        check(csrf is not None, "no form on /submit")
        data = {"csrf": unescape(csrf[1]) if csrf else "", "message": TIP, "channel": channel}
        files = [("files", ("invoice-2025-114.pdf", PDF, "application/pdf"))]
        sent = client.post("/submit", data=data, files=files, headers={"Origin": source_url})
        check(sent.status_code == 303, f"the tip was not sent: {sent.text[:500]}")


TIP = (
    "I work in procurement at the regional water authority. Since March, three contracts for "
    "pipe repairs went to the same supplier without a tender, each just under the limit that "
    "needs one. The invoices attached show the same work billed twice.\n\n"
    "I can answer questions here, but please do not contact me at work."
)
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


class Shooter:
    """One browser context per account and width, JavaScript off, confined to one origin."""

    def __init__(self, browser: Browser, instance: Instance, staff_url: str, out: Path) -> None:
        self.browser = browser
        self.instance = instance
        self.staff_url = staff_url
        self.out = out
        self.pages: dict[tuple[str, str], Page] = {}

    def page(self, who: str, form: str) -> Page:
        if (who, form) not in self.pages:
            context = self.browser.new_context(
                java_script_enabled=False,
                locale="en-GB",
                timezone_id="Europe/Berlin",
                viewport={"width": WIDTHS[form], "height": HEIGHTS[form]},
            )
            context.set_default_timeout(60_000)

            def confine(route: Route) -> None:
                if route.request.url.startswith(self.staff_url + "/"):
                    route.continue_()
                else:
                    route.abort()

            context.route("**/*", confine)
            self.pages[who, form] = context.new_page()
        return self.pages[who, form]

    def log_in(self, who: str, account: Account, form: str) -> Page:
        page = self.page(who, form)
        page.goto(self.staff_url + "/login")
        page.locator("#username").fill(account.username)
        page.locator("#password").fill(account.password)
        page.locator("#totp").fill(self.instance.code(account))
        page.locator("main button[type=submit]").first.click()
        page.wait_for_load_state()
        if "/login" in page.url:
            raise RuntimeError(f"{account.username} could not log in: {page.url}")
        return page

    def take(self, page: Page, name: str, form: str, *, whole: bool = False) -> Path:
        height = int(page.evaluate("document.documentElement.scrollHeight"))
        height = height if whole else min(MAX_HEIGHT, height)
        clip: FloatRect = {"x": 0, "y": 0, "width": WIDTHS[form], "height": height}
        png = page.screenshot(full_page=True, clip=clip)
        path = self.out / f"{name}-{form}.png"
        with Image.open(BytesIO(png)) as image:
            small = image.convert("RGB").quantize(COLOURS, method=Image.Quantize.MEDIANCUT)
            small.save(path, optimize=True)
        print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: "
              f"{path.stat().st_size // 1024} KiB", file=sys.stderr)  # fmt: skip
        return path


def shoot(instance: Instance, accounts: dict[str, Account], staff_url: str, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        shooter = Shooter(browser, instance, staff_url, out)
        for form in WIDTHS:
            login = shooter.page("anonymous", form)
            login.goto(staff_url + "/login")
            shooter.take(login, "login", form)

            page = shooter.log_in("alice", accounts["alice"], form)
            page.goto(staff_url + "/")
            shooter.take(page, "inbox", form)
            # The newest case: the tip sent through the source interface.
            page.goto(staff_url + "/?sort=created")
            page.locator("table.cases tbody tr a").first.click()
            page.wait_for_load_state()
            shooter.take(page, "case", form, whole=True)
            page.goto(staff_url + "/account")
            shooter.take(page, "account", form)

            admin = shooter.log_in("admin", accounts["admin"], form)
            admin.goto(staff_url + "/admin")
            shooter.take(admin, "admin", form)
            admin.locator("main td a[href^='/admin/channels/']").first.click()
            admin.wait_for_load_state()
            admin.locator("main a[href$='/settings']").first.click()
            admin.wait_for_load_state()
            shooter.take(admin, "admin-channel", form)
            admin.goto(staff_url + "/admin/audit")
            shooter.take(admin, "audit", form)
        browser.close()


def prepare_case(instance: Instance, account: Account, staff_url: str) -> None:
    """Alice acknowledges the new case, labels it, assigns Bob and replies, through the web."""
    with httpx.Client(base_url=staff_url, timeout=120, headers={"Origin": staff_url}) as web:
        login = web.post(
            "/login",
            data={
                "username": account.username,
                "password": account.password,
                "totp": instance.code(account),
            },
        )
        check(login.status_code == 303, f"alice could not log in: {login.text[:500]}")
        inbox = web.get("/", params={"sort": "created"})
        found = re.search(r'href="/cases/([0-9a-f]+)"', inbox.text)
        check(found is not None, "no case in the inbox")
        case = f"/cases/{found[1] if found else ''}"

        def post(path: str, **fields: str) -> None:
            page = web.get(case)
            csrf = re.search(r'name="csrf" value="([^"]*)"', page.text)
            check(csrf is not None, f"no form on {case}")
            token = unescape(csrf[1]) if csrf else ""
            done = web.post(case + path, data={"csrf": token, **fields})
            check(done.status_code == 303, f"{path}: {done.status_code} {done.text[:500]}")

        post("/status", status="in_progress")
        post("/labels", name="procurement")
        post("/important", important="1")
        assign = web.get(case).text.split('id="work-assign"', 1)[-1]
        bob = re.search(r'<option value="([^"]+)">bob</option>', assign)
        if bob is not None:
            post("/assignees", user_id=bob[1])
        post("/notes", text="Compare with the 2024 tender register before replying.")
        post("/replies", text=REPLY)
        web.post("/logout", data={})


REPLY = (
    "Thank you, this is clear and the invoices help. Could you tell us whether anyone else "
    "in your department has seen them? Take your time; you can answer here whenever it is safe."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium (never a downloaded one)")
    args.out.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="mailslot-screenshots-"))
    try:
        instance = Instance(base)
        accounts, channel = build(instance)
        with instance.serve() as (source_url, staff_url):
            send_a_tip(source_url, channel)
            prepare_case(instance, accounts["alice"], staff_url)
            shoot(instance, accounts, staff_url, args.out)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
