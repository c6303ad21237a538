"""Coverage-guided fuzzing of the format's parsers with atheris (libFuzzer), next to the
Hypothesis tests in tests/unit/crypto/test_fuzz.py: each target of
tests/fuzz/atheris_harness.py runs for a bounded number of inputs, seeded with the known-answer
and reject vectors; a crash (any exception but the opaque DecryptionError) or a hang fails."""

from __future__ import annotations

import importlib.util
import platform
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[1] / "fuzz" / "atheris_harness.py"
TARGETS = ("item", "meta", "keyfile", "bundle", "kdf")
RUNS = 200_000

pytestmark = [pytest.mark.timeout(300), pytest.mark.no_database]

# The test dependency installs atheris where it publishes wheels (pyproject.toml); elsewhere
# this module says so instead of failing.
if importlib.util.find_spec("atheris") is None:
    if platform.system() == "Linux" and platform.machine() == "x86_64":
        raise RuntimeError("atheris is a test dependency on Linux x86_64 but is not installed")
    pytest.skip(
        f"atheris publishes no wheel for {platform.system()} {platform.machine()}",
        allow_module_level=True,
    )


@pytest.mark.parametrize("target", TARGETS)
def test_parser_survives_coverage_guided_fuzzing(target: str, tmp_path: Path) -> None:
    corpus, artifacts = tmp_path / "corpus", tmp_path / "artifacts"
    artifacts.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            str(HARNESS),
            target,
            str(corpus),
            f"-runs={RUNS}",
            "-seed=1",
            "-timeout=10",  # seconds per input: a hang is a crash
            "-max_len=200000",
            "-max_total_time=60",
            "-rss_limit_mb=2048",
            f"-artifact_prefix={artifacts}/",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    report = done.stderr[-4000:]
    assert done.returncode == 0, report
    assert "Done " in done.stderr, report
    assert list(artifacts.iterdir()) == [], report
    # It started from the vectors: the corpus holds them and what the search added.
    assert sum(1 for _ in corpus.iterdir()) >= 3, report
