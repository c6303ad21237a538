"""The server's idle memory with all 13 languages in use.

.venv/bin/python bench/languages.py [--rounds 3]

Starts ``mailslot serve`` as bench/submit.py does, reads its idle RSS after start-up, then
renders the source pages that every first-time source sees (home, login, a new codename, the
send form) in each of the 13 languages, ``--rounds`` times, so that every catalogue, every
locale's formatting data and every codename word list is loaded, and reads the idle RSS again.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from _common import (
    browser_client,
    clean_up_on_sigterm,
    idle_rss_kib,
    machine,
    markdown_table,
    running_server,
    verdict,
    write_results,
)

from mailslot.i18n import SUPPORTED_LOCALES, language
from mailslot.web.server import TRIM_INTERVAL

TARGET_IDLE_MIB = 80.0
# Idle means after the server gave a burst's freed memory back (it trims every
# TRIM_INTERVAL seconds in which requests were answered): read RSS only once it had the
# chance, with a margin for a loaded machine.
SETTLE = TRIM_INTERVAL + 2.0
PAGES = ("/", "/login", "/new", "/submit")


def visit_every_language(base_url: str) -> int:
    """Each page in each language, with a new codename per language; the requests made."""
    made = 0
    for locale in SUPPORTED_LOCALES:
        with browser_client(base_url, 60) as client:
            tag = language(locale).tag
            for path in PAGES:
                if path == "/new":
                    response = client.post(f"/new?lang={tag}")
                else:
                    response = client.get(f"{path}?lang={tag}")
                if response.status_code != 200:
                    raise SystemExit(f"{path} in {locale}: {response.status_code}")
                made += 1
            login = client.post(f"/login?lang={tag}", data={"codename": "not a codename"})
            if login.status_code != 401:
                raise SystemExit(f"a wrong codename in {locale}: {login.status_code}")
            made += 1
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    clean_up_on_sigterm()
    data_parent = Path(tempfile.gettempdir())
    with running_server() as server:
        start = idle_rss_kib(server.proc.pid, settle=2.0) / 1024
        requests = sum(visit_every_language(server.source_url) for _ in range(args.rounds))
        after = idle_rss_kib(server.proc.pid, settle=SETTLE) / 1024
    results: dict[str, Any] = {
        "machine": machine(data_parent),
        "locales": list(SUPPORTED_LOCALES),
        "requests": requests,
        "idle_rss_mib": {"after_start": start, "after_every_language": after},
        "target_idle_mib": TARGET_IDLE_MIB,
        "pass": max(start, after) <= TARGET_IDLE_MIB,
    }
    write_results("languages", results)
    print(
        markdown_table(
            ("Measure", "Mailslot", ""),
            [
                ("idle RSS after start-up", f"{start:.1f} MiB", verdict(start <= TARGET_IDLE_MIB)),
                (
                    f"idle RSS after {requests} requests in {len(SUPPORTED_LOCALES)} languages",
                    f"{after:.1f} MiB",
                    verdict(after <= TARGET_IDLE_MIB),
                ),
            ],
        )
    )


if __name__ == "__main__":
    main()
