"""A real S3 server for the object-storage tests: moto's server mode, in its own process on a
port from this test process's range, speaking the S3 protocol over HTTP. Each test gets a new
bucket of its own.

Loaded as a plugin by tests/conftest.py, so that its fixtures are there for every test file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Fixed, fake credentials: moto accepts any. Set for the test process's own clients and for
# every server the tests start; no request ever leaves the loopback interface.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "mailslot-test",
    "AWS_SECRET_ACCESS_KEY": "mailslot-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    # No profile or configuration file of the machine's user may change what is tested.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


@dataclass
class MotoServer:
    endpoint: str
    proc: subprocess.Popen[bytes]
    log: Path

    def client(self) -> Any:
        import boto3

        return boto3.session.Session(
            aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            region_name=AWS_ENV["AWS_DEFAULT_REGION"],
        ).client("s3", endpoint_url=self.endpoint)

    def new_bucket(self) -> str:
        name = "mailslot-" + os.urandom(6).hex()
        self.client().create_bucket(Bucket=name)
        return name

    def env(self, bucket: str, prefix: str = "blobs") -> dict[str, str]:
        """The environment of a Mailslot process that keeps its blobs in ``bucket``."""
        return {
            **AWS_ENV,
            "MAILSLOT_BLOB_URL": f"s3://{bucket}/{prefix}",
            "MAILSLOT_S3_ENDPOINT_URL": self.endpoint,
        }

    def keys(self, bucket: str) -> list[str]:
        """Every object in the bucket."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [entry["Key"] for page in pages for entry in page.get("Contents", ())]

    def uploads(self, bucket: str) -> list[str]:
        """The keys of every multipart upload begun and neither completed nor aborted."""
        found = self.client().list_multipart_uploads(Bucket=bucket)
        return [upload["Key"] for upload in found.get("Uploads", ())]

    def objects(self, bucket: str) -> dict[str, bytes]:
        client = self.client()
        return {
            key: client.get_object(Bucket=bucket, Key=key)["Body"].read()
            for key in self.keys(bucket)
        }


def start_moto(base: Path) -> MotoServer:
    from tests.conftest import free_port

    port = free_port()
    log = base / "moto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=out,
            env={**os.environ, **AWS_ENV},
        )
    server = MotoServer(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + 60
    while True:
        try:
            server.client().list_buckets()
            return server
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"moto did not start: {log.read_text()}") from None
            time.sleep(0.1)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = start_moto(tmp_path_factory.mktemp("moto"))
    yield server
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        server.proc.kill()


@pytest.fixture
def s3_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A new bucket, and this process's environment pointing at it (as a server's would)."""
    env = moto_server.env(moto_server.new_bucket())
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
