"""/healthz and /readyz on the staff interface."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import LiveServer, start_server, stop_server


def test_health_and_readiness(server: LiveServer) -> None:
    live = httpx.get(f"{server.staff_url}/healthz", timeout=30)
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}
    assert live.headers["cache-control"] == "no-store"
    ready = httpx.get(f"{server.staff_url}/readyz", timeout=30)
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "checks": {"database": True, "migrations": True, "blob_store": True},
    }
    # Only on the staff side: the source interface has no such pages.
    assert httpx.get(f"{server.source_url}/readyz", timeout=30).status_code == 404


def test_readiness_fails_when_the_blob_store_cannot_take_a_write(tmp_path: Path) -> None:
    live = start_server(tmp_path)
    blobs = live.data_dir / "blobs"
    try:
        blobs.rename(tmp_path / "blobs-away")
        blobs.write_text("not a directory")  # even root cannot create files under a file
        broken = httpx.get(f"{live.staff_url}/readyz", timeout=30)
        assert broken.status_code == 503
        assert broken.json()["checks"] == {
            "database": True,
            "migrations": True,
            "blob_store": False,
        }
        assert httpx.get(f"{live.staff_url}/healthz", timeout=30).status_code == 200
        blobs.unlink()
        (tmp_path / "blobs-away").rename(blobs)
        assert httpx.get(f"{live.staff_url}/readyz", timeout=30).status_code == 200
    finally:
        stop_server(live)
