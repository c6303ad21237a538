"""`bench/run --quick` works: each benchmark runs against a real server, writes its results
and the report is rewritten between its markers only. What the figures are is the
benchmarks' business (they depend on the host); this checks that the one command runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The benchmarks start their own servers on their own embedded databases (they drop every
# MAILSLOT_* setting), so this test is the same on both passes and opens no test database.
pytestmark = pytest.mark.no_database

REPO = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def outside_results(text: str) -> str:
    head, rest = text.split(BEGIN)
    return head + rest.split(END)[1]


@pytest.mark.timeout(600)
def test_bench_run_quick(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    original = (REPO / "docs" / "performance.md").read_text()
    doc.write_text(original)
    results = tmp_path / "results"
    env = os.environ | {"BENCH_RESULTS_DIR": str(results), "BENCH_DOC": str(doc)}
    done = subprocess.run(
        ["bench/run", "--quick"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    throughput = json.loads((results / "throughput.json").read_text())
    assert [s["label"] for s in throughput["sizes"]] == ["16 MiB", "64 MiB"]
    for size in throughput["sizes"]:
        assert size["upload_mb_s"] > 0
        assert size["download_mb_s"] > 0
        assert size["disk_write_fsync_mb_s"] > 0
    assert throughput["limits"]["aead_seal_mb_s"] > 0
    login = json.loads((results / "login.json").read_text())
    assert login["codename_login"]
    assert login["new_source"]
    submit = json.loads((results / "submit.json").read_text())
    assert submit["submissions_per_round"] == 100
    assert submit["idle_rss_mib"]

    report = doc.read_text()
    assert outside_results(report) == outside_results(original)
    section = report.split(BEGIN)[1].split(END)[0]
    assert "| upload 16 MiB ≥ 200 MB/s" in section
    assert "| idle memory ≤ 80 MiB |" in section
    assert "| new source ≤ 0.5 s |" in section
    # The committed report and results are left alone.
    assert (REPO / "docs" / "performance.md").read_text() == original


@pytest.mark.timeout(600)
def test_slow_uploads_quick(tmp_path: Path) -> None:
    """`bench/slow_uploads.py --quick` starts the server with ./scripts/run, sends its slow
    uploads with the page sampler running, and writes its figures (not judged here)."""
    results = tmp_path / "results"
    env = os.environ | {"BENCH_RESULTS_DIR": str(results)}
    done = subprocess.run(
        [sys.executable, "bench/slow_uploads.py", "--quick", "--no-stalls"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads((results / "slow_uploads.json").read_text())
    assert data["uploads"] == 20
    assert data["succeeded"] == 20
    assert data["server_alive"]
    assert data["idle_rss_mib"]["before_load"] > 0
    assert data["idle_rss_mib"]["peak"] >= data["idle_rss_mib"]["before_load"]
    assert data["pages"]["source /"]["n"] > 0
    assert data["pages"]["staff GET /api/v1/cases"]["n"] > 0
    assert data["page_errors"] == 0
    assert "| uploads that succeeded | 20 of 20 | all | pass |" in done.stdout
