"""The seizure test for a bucket: what a copy of every object in the S3 bucket gives someone
without any key (the host's storage provider, or whoever takes the bucket).

A real ``mailslot serve`` keeps its blobs in a bucket of a real S3 server over HTTP (moto's
server mode, tests/s3.py). Sources send messages and files whose names and contents carry
random markers (one file large enough to go up as a multipart upload), a recipient replies
with a marker, and deletes one case. Then every object of the bucket is read, with every
version and unfinished upload. The tests check that:

- no marker, file name, codename, case id, item id or pseudonym is in any object's key or
  bytes, in any common encoding: keys are the store's prefix and a random 64-hex blob id;
- every object is ciphertext in the item format (its version marker, and bytes that do not
  compress);
- the deleted case left no object, no version, no delete marker and no unfinished upload,
  and its key wraps are gone, so even a copy of its objects taken before cannot be opened;
- as positive controls, the same scan finds a marker in a throwaway object holding it in
  clear (in each encoding), and the recipient reads every marker back through the API, so
  the objects did hold the content and the scan would have seen it in clear.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import func, select

from mailslot.cases.models import CaseKeyWrap
from mailslot.db.base import make_engine
from tests.conftest import LiveServer, start_server, stop_server
from tests.functional.helpers import find_case, new_source, submit
from tests.functional.test_backup import read_case
from tests.functional.test_seizure import encodings, marker
from tests.s3 import MotoServer

pytestmark = pytest.mark.timeout(300)

PREFIX = "seized"
KEY_RE = re.compile(rf"{PREFIX}/[0-9a-f]{{64}}")
MiB = 1 << 20


@dataclass
class Bucket:
    """The bucket's contents as a seizer copies them, and what the scenario knows."""

    objects: dict[str, bytes]
    versions: list[str]
    delete_markers: list[str]
    uploads: list[str]
    secrets: list[str] = field(default_factory=list)  # markers, names, codenames, ids
    kept: dict[str, bytes] = field(default_factory=dict)  # what each kept case reads as
    deleted_objects: dict[str, bytes] = field(default_factory=dict)
    deleted_case: str = ""
    wraps: dict[str, int] = field(default_factory=dict)  # case key wraps left, by case


def copy_bucket(moto_server: MotoServer, bucket: str) -> Bucket:
    client = moto_server.client()
    versions = client.list_object_versions(Bucket=bucket)
    return Bucket(
        objects=moto_server.objects(bucket),
        versions=[v["Key"] for v in versions.get("Versions", ())],
        delete_markers=[m["Key"] for m in versions.get("DeleteMarkers", ())],
        uploads=moto_server.uploads(bucket),
    )


@pytest.fixture(scope="module")
def seized(moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bucket]:
    bucket = moto_server.new_bucket()
    env = moto_server.env(bucket, PREFIX)
    live = start_server(tmp_path_factory.mktemp("seize-s3"), env)
    try:
        yield scenario(live, moto_server, bucket)
    finally:
        stop_server(live)


def scenario(live: LiveServer, moto_server: MotoServer, bucket: str) -> Bucket:
    account = live.add_user("recipient")
    known: list[str] = []
    messages = []
    for n in range(3):
        text, name, content = marker("message"), marker("filename"), marker("content")
        known += [text, name, content]
        # The first (the case deleted later) carries a file past one part (5 MiB): a
        # multipart upload.
        body = content.encode() * ((6 * MiB) // len(content) if n == 0 else 4)
        with httpx.Client(base_url=live.source_url, timeout=120) as source:
            known.append(new_source(source))
            response = submit(source, text, files=[(f"{name}.txt", body, "text/plain")])
            assert response.status_code == 303, response.text
        messages.append(text)
    with live.api_client(account) as api:
        cases = [find_case(api, text) for text in messages]
        for case in cases:
            known += [case["id"], case["pseudonym"]]
        reply = marker("reply")
        known.append(reply)
        posted = api.post(f"/cases/{cases[1]['id']}/replies", json={"text": reply})
        assert posted.status_code == 201, posted.text
        contents = {case["id"]: read_case(api, case["id"]) for case in cases}
        known += [item_id for items in contents.values() for item_id in items]
        before = moto_server.objects(bucket)
        doomed = cases[0]["id"]
        assert api.delete(f"/cases/{doomed}").status_code == 204
    seized = copy_bucket(moto_server, bucket)
    seized.secrets = known
    seized.kept = {
        item_id: data
        for case_id, items in contents.items()
        if case_id != doomed
        for item_id, data in items.items()
    }
    seized.deleted_objects = {k: v for k, v in before.items() if k not in seized.objects}
    seized.deleted_case = doomed
    engine = make_engine(live.config().resolved_database_url)
    try:
        with engine.connect() as db:
            for case in cases:
                found = select(func.count()).where(CaseKeyWrap.case_id == case["id"])
                seized.wraps[case["id"]] = int(db.scalar(found) or 0)
    finally:
        engine.dispose()
    return seized


def found_in(data: bytes, secrets: list[str]) -> list[str]:
    return [
        f"{secret} ({form})"
        for secret in secrets
        for form, encoded in encodings(secret).items()
        if encoded in data
    ]


def test_no_secret_in_any_key_or_object(seized: Bucket) -> None:
    assert len(seized.secrets) >= 20
    leaks = []
    # Also in a copy taken before the deletion.
    for key, data in {**seized.objects, **seized.deleted_objects}.items():
        leaks += [f"key {key}: {hit}" for hit in found_in(key.encode(), seized.secrets)]
        leaks += [f"object {key}: {hit}" for hit in found_in(data, seized.secrets)]
    assert leaks == []


def test_keys_are_the_prefix_and_an_opaque_id(seized: Bucket) -> None:
    # Two kept cases: two messages, two files, one reply.
    assert len(seized.objects) == 5
    for key in seized.objects:
        assert KEY_RE.fullmatch(key), key


def test_every_object_is_ciphertext_in_the_item_format(seized: Bucket) -> None:
    every = {**seized.objects, **seized.deleted_objects}
    for key, data in every.items():
        assert data.startswith(b"MSLI"), key
        # Ciphertext does not compress; the large file's repeated marker would, a thousandfold.
        assert len(zlib.compress(data, 9)) > 0.99 * len(data), key
    assert max(map(len, every.values())) > 6 * MiB  # the large file, in one object


def test_the_deleted_case_left_nothing_in_the_bucket(seized: Bucket) -> None:
    assert seized.deleted_case
    # Its message and file (the multipart one) had objects; both are gone, with no version,
    # delete marker or unfinished upload left behind.
    assert len(seized.deleted_objects) == 2
    assert max(map(len, seized.deleted_objects.values())) > 6 * MiB
    assert sorted(seized.versions) == sorted(seized.objects)
    assert seized.delete_markers == []
    assert seized.uploads == []
    # Crypto-shredding: the case's key wraps went with it, so a copy of its objects taken
    # before the deletion opens with no key anyone still has. (Positive control: the same
    # count finds the kept cases' wraps.)
    assert seized.wraps.pop(seized.deleted_case) == 0
    assert sorted(seized.wraps.values()) == [1, 1]


def test_positive_control_the_scan_finds_a_secret_in_clear(seized: Bucket) -> None:
    planted = marker("planted")
    for form, encoded in encodings(planted).items():
        hits = found_in(b"\x00" * 7 + encoded + b"\xff" * 5, [planted])
        assert any(f"({form})" in hit for hit in hits), form
    # And in a clear copy of a real object's content.
    assert found_in(base64.b64encode(planted.encode()), [planted])


def test_positive_control_the_objects_held_the_content(seized: Bucket) -> None:
    readable = b"\n".join(seized.kept.values())
    kept_markers = [s for s in seized.secrets if s.startswith("MARKER-") and s.encode() in readable]
    # Two kept messages, their two files (content), and the reply: read back in clear.
    assert len(kept_markers) >= 5
