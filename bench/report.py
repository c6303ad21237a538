"""Rewrite the results section of docs/performance.md from bench/results/*.json.

    .venv/bin/python bench/report.py [--doc docs/performance.md]

Only the text between ``<!-- results:begin -->`` and ``<!-- results:end -->`` changes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from _common import REPO, RESULTS, markdown_table, verdict

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"
NOTE = "reported in issue 3 for this machine kind, not re-measured by these scripts"


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def machine_section(info: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"Measured on {info['date']}: {info['nproc']} CPUs ({info['cpu']}), "
            f"{info['ram_mib'] / 1024:.1f} GiB RAM, Linux {info['kernel']}, "
            f"Python {info['python']}, cryptography {info['cryptography']}, "
            f"httpx {info['httpx']} as the client; data directory on {info['filesystem']}. "
            f"Load average when the run started: "
            f"{', '.join(str(x) for x in info['load_avg_at_start'])} "
            "(the machine is shared, so figures are noisy).",
        ]
    )


def limits_section(tp: dict[str, Any] | None, login: dict[str, Any] | None) -> str:
    rows: list[list[object]] = []
    if tp:
        lim = tp["limits"]
        rows += [
            [
                "AES-256-GCM seal, 64 KiB chunks, 1 thread",
                f"{lim['aead_seal_mb_s']:.0f} MB/s (best of {len(lim['aead_seal_runs_mb_s'])})",
            ],
            [
                "AES-256-GCM open, 64 KiB chunks, 1 thread",
                f"{lim['aead_open_mb_s']:.0f} MB/s (best of {len(lim['aead_open_runs_mb_s'])})",
            ],
        ]
        rows += [
            [
                f"disk write + fsync of {r['label']} in 1 MiB blocks",
                f"{r['disk_write_fsync_mb_s']:.0f} MB/s (best of {len(r['disk_runs_mb_s'])})",
            ]
            for r in tp["sizes"]
        ]
    if login:
        raw = login["raw_argon2id"]
        rows.append(
            [
                f"Argon2id {login['kdf']['encoded']}, 1 thread",
                f"{raw['single']['median_ms']:.0f} ms (median of {raw['single']['n']}, "
                "each next to a login)",
            ]
        )
        rows += [
            [
                f"Argon2id, {c} thread(s) at once (just before the server level)",
                f"{per_s:.2f} derivations/s",
            ]
            for c, per_s in raw["per_s"].items()
        ]
    if not rows:
        return ""
    return "### Physical limits\n\n" + markdown_table(["Limit", "Value"], rows)


def throughput_section(tp: dict[str, Any]) -> str:
    rows = [
        [
            r["label"],
            f"{r['upload_mb_s']:.0f} ({r['upload_best_mb_s']:.0f})",
            f"{r['ceiling_mb_s']:.0f} ({r['ceiling_best_mb_s']:.0f})",
            f"{r['ceiling_ratio']:.0%}",
            f"{r['upload_server_cpu_s_per_gb']:.2f} / {r['ceiling_server_cpu_s_per_gb']:.2f}",
            f"{r['upload_rss_growth_mib']:.1f}",
            f"{r['download_mb_s']:.0f} ({r['download_best_mb_s']:.0f})",
            f"{r['download_ratio']:.0%}",
            f"{r['download_rss_growth_mib']:.1f}",
        ]
        for r in tp["sizes"]
    ]
    idle = tp["server_idle_rss_mib"]
    return "\n\n".join(
        [
            "### Large files over loopback",
            markdown_table(
                [
                    "File",
                    "Upload MB/s, median (best)",
                    "HTTP-layer ceiling MB/s, median (best)",
                    "Upload / ceiling",
                    "Server CPU s per GB, upload / ceiling",
                    "Upload peak RSS over idle, MiB",
                    "Download MB/s, median (best)",
                    f"of AEAD open = {tp['limits']['aead_open_mb_s']:.0f} MB/s",
                    "Download peak RSS over idle, MiB",
                ],
                rows,
            ),
            f"{tp['repeat']} rounds per size, each sending the same body to the ceiling and to "
            "Mailslot in turns (which goes first alternates); throughput and CPU are medians "
            "(best run in brackets), memory growth the worst run. MB is 10^6 bytes. Server idle "
            f"RSS in this run: {idle['after_start']:.1f} MiB after start-up, "
            f"{idle['at_end']:.1f} MiB at the end.",
        ]
    )


def login_section(login: dict[str, Any]) -> str:
    raw = login["raw_argon2id"]
    cl = login["codename_login"]
    rows: list[list[object]] = [
        [
            f"codename login (POST /login), {cl['n']} sequential",
            f"{cl['median_ms']:.0f}",
            f"{cl['p95_ms']:.0f}",
            "",
            f"{cl['overhead_over_raw_ms']:+.0f} ms over raw Argon2id "
            f"({raw['single']['median_ms']:.0f} ms; median of paired runs)",
        ]
    ]
    for c, row in login["new_source"].items():
        rows.append(
            [
                f"new source (POST /new), {c} concurrent client(s), {row['n']} in all",
                f"{row['median_ms']:.0f}",
                f"{row['p95_ms']:.0f}",
                f"{row['per_s']:.2f}",
                f"{row['ratio_to_raw']:.0%} of raw Argon2id with {c} thread(s)",
            ]
        )
    first = login["new_source_with_first_submission"]
    rows.append(
        [
            "new source and its first text submission (POST /new, GET and POST /submit)",
            f"{first['median_ms']:.0f}",
            f"{first['p95_ms']:.0f}",
            "",
            "",
        ]
    )
    return "### Codename login and new sources\n\n" + markdown_table(
        ["Measure", "Median ms", "p95 ms", "Per second", "Against the limit"], rows
    )


def submit_section(sub: dict[str, Any]) -> str:
    best = sub["best"]
    idle = sub["idle_rss_mib"]
    rows = [
        [
            f"text submission ({sub['message_chars']} characters), POST /submit",
            f"{best['median_ms']:.1f}",
            f"{best['p95_ms']:.1f}",
            f"{best['per_s']:.0f}",
        ]
    ]
    floor = sub.get("durable_write_floor")
    if floor:
        rows.append(
            [
                "limit: small durable write (write, fsync, rename, fsync directory)",
                f"{floor['median_ms']:.2f}",
                f"{floor['p95_ms']:.2f}",
                f"{1000 / floor['median_ms']:.0f}",
            ]
        )
    return "\n\n".join(
        [
            "### Text submissions and idle memory",
            markdown_table(["Measure", "Median ms", "p95 ms", "Per second"], rows),
            f"{len(sub['rounds'])} rounds of {sub['submissions_per_round']} sequential "
            "submissions by one logged-in source; the best round is shown (median of rounds: "
            f"{sub['median_of_rounds_per_s']:.0f}/s). Idle server RSS: "
            f"{idle['after_start']:.1f} MiB after start-up, {idle['after_run']:.1f} MiB after "
            "the run.",
        ]
    )


def targets_section(
    tp: dict[str, Any] | None, login: dict[str, Any] | None, sub: dict[str, Any] | None
) -> str:
    rows: list[list[object]] = []
    if login:
        seq = login["new_source"].get("1") or next(iter(login["new_source"].values()))
        rows.append(
            [
                "new source ≤ 0.5 s",
                f"{seq['median_ms'] / 1000:.2f} s",
                verdict(login["new_source_pass"]),
                "2–3.8 s",
                "3.6 s",
            ]
        )
    if sub:
        best = sub["best"]
        rows += [
            [
                "text submission median ≤ 10 ms",
                f"{best['median_ms']:.1f} ms",
                verdict(sub["latency_pass"]),
                "44–94 ms",
                "3.56 s",
            ],
            [
                "≥ 200 sequential submissions/s",
                f"{best['per_s']:.0f}/s",
                verdict(sub["rate_pass"]),
                "17–19/s",
                "0.28/s",
            ],
            [
                "idle memory ≤ 80 MiB",
                f"{max(sub['idle_rss_mib'].values()):.1f} MiB",
                verdict(sub["idle_pass"]),
                "62 MB",
                "95–126 MiB",
            ],
        ]
    if tp:
        for r in tp["sizes"]:
            rows.append(
                [
                    f"upload {r['label']} ≥ 200 MB/s and ≥ 85 % of the HTTP-layer ceiling",
                    f"{r['upload_mb_s']:.0f} MB/s, {r['ceiling_ratio']:.0%}",
                    verdict(r["upload_pass"]),
                    "10.9 MB/s (100 MB file)",
                    "36–38 MB/s",
                ]
            )
        for r in tp["sizes"]:
            growth = max(r["upload_rss_growth_mib"], r["download_rss_growth_mib"])
            rows.append(
                [
                    f"RSS growth ≤ 64 MiB, {r['label']} up and down",
                    f"{growth:.1f} MiB",
                    verdict(r["rss_pass"]),
                    "+186 MB for a 100 MB upload",
                    "",
                ]
            )
    if not rows:
        return ""
    return "\n\n".join(
        [
            "### Targets",
            markdown_table(
                ["Target", "Mailslot, this run", "", "SecureDrop 2.6.1 †", "GlobaLeaks 5.0.15 †"],
                rows,
            ),
            f"† {NOTE}. GlobaLeaks caps uploads at 30 MB by default.",
        ]
    )


def render() -> str:
    tp, login, sub = load("throughput"), load("login"), load("submit")
    info = next((d["machine"] for d in (tp, login, sub) if d), None)
    if info is None:
        return "No results yet: run `bench/run`."
    parts = [
        machine_section(info),
        targets_section(tp, login, sub),
        limits_section(tp, login),
    ]
    if tp:
        parts.append(throughput_section(tp))
    if login:
        parts.append(login_section(login))
    if sub:
        parts.append(submit_section(sub))
    return "\n\n".join(p for p in parts if p)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "performance.md")
    args = parser.parse_args(argv)
    text = args.doc.read_text()
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        print(f"{args.doc}: markers {BEGIN} … {END} not found", file=sys.stderr)
        return 1
    args.doc.write_text(f"{head}{BEGIN}\n{render()}\n{END}{tail}")
    print(f"updated {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
