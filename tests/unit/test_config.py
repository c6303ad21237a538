"""Configuration from the environment: parsing, validation and the masked ``repr``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mailslot.config import GiB, MiB, load_config, mask_url, parse_bool
from mailslot.crypto import DEFAULT_KDF, KdfParams
from mailslot.errors import ConfigError

pytestmark = pytest.mark.no_database


def test_defaults_without_environment() -> None:
    config = load_config({})
    assert config.source_addr == ("127.0.0.1", 8080)
    assert config.staff_addr == ("127.0.0.1", 8081)
    assert config.kdf == DEFAULT_KDF
    assert config.max_message_chars == 100_000
    assert config.max_files_per_submission == 100
    assert config.database_url == ""
    assert config.resolved_database_url.startswith("sqlite:///")
    assert config.resolved_database_url.endswith("mailslot.sqlite3")
    assert config.blob_dir == config.data_dir / "blobs"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("192.0.2.10:9000", ("192.0.2.10", 9000)),
        ("localhost:1", ("localhost", 1)),
        ("[::1]:8443", ("::1", 8443)),
        ("example.onion:65535", ("example.onion", 65535)),
    ],
)
def test_addresses_are_parsed(value: str, expected: tuple[str, int]) -> None:
    config = load_config({"MAILSLOT_SOURCE_ADDR": value, "MAILSLOT_STAFF_ADDR": value})
    assert config.source_addr == expected
    assert config.staff_addr == expected


def test_staff_url_brackets_ipv6_and_prefers_explicit_url() -> None:
    assert load_config({"MAILSLOT_STAFF_ADDR": "[::1]:8443"}).resolved_staff_url == (
        "http://[::1]:8443"
    )
    explicit = load_config({"MAILSLOT_STAFF_URL": "https://staff.example.org/"})
    assert explicit.resolved_staff_url == "https://staff.example.org"


@pytest.mark.parametrize("value", ["8080", "host:", ":8080", "host:0", "host:65536", "host:http"])
def test_bad_address_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="MAILSLOT_STAFF_ADDR") as info:
        load_config({"MAILSLOT_STAFF_ADDR": value})
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100", 100),
        ("512k", 512 * 1024),
        ("10M", 10 * MiB),
        ("10MB", 10 * MiB),
        ("2GiB", 2 * GiB),
        (" 3 gib ", 3 * GiB),
        ("1T", 1024 * GiB),
    ],
)
def test_sizes_are_parsed(value: str, expected: int) -> None:
    config = load_config({"MAILSLOT_MAX_FILE_SIZE": value})
    assert config.max_file_size == expected


@pytest.mark.parametrize("value", ["lots", "-5", "1.5G", "GiB", "5 PiB"])
def test_bad_size_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="MAILSLOT_MAX_SUBMISSION_SIZE"):
        load_config({"MAILSLOT_MAX_SUBMISSION_SIZE": value})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        (" YES ", True),
        ("on", True),
        ("0", False),
        ("False", False),
        ("no", False),
        ("off", False),
    ],
)
def test_booleans(value: str, expected: bool) -> None:
    assert parse_bool(value, "MAILSLOT_SOMETHING") is expected


@pytest.mark.parametrize("value", ["", "maybe", "2", "y"])
def test_bad_boolean_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="MAILSLOT_SOMETHING"):
        parse_bool(value, "MAILSLOT_SOMETHING")


def test_kdf_cost_string_is_parsed() -> None:
    config = load_config({"MAILSLOT_KDF": "argon2id$m=65536,t=3,p=1"})
    assert config.kdf == KdfParams(memory_kib=65536, iterations=3, lanes=1)


@pytest.mark.parametrize(
    "value",
    [
        "scrypt$n=16384",
        "argon2id$m=4,t=1,p=1",  # below 8 KiB per lane
        "argon2id$m=65536,t=0,p=1",
        "argon2id$m=65536,t=3,p=1 ",
        "argon2i$m=65536,t=3,p=1",
    ],
)
def test_bad_kdf_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="MAILSLOT_KDF"):
        load_config({"MAILSLOT_KDF": value})


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MAILSLOT_KDF_CONCURRENCY": "two"}, "MAILSLOT_KDF_CONCURRENCY"),
        ({"MAILSLOT_KDF_CONCURRENCY": "0"}, "MAILSLOT_KDF_CONCURRENCY"),
        ({"MAILSLOT_LOG_LEVEL": "verbose"}, "MAILSLOT_LOG_LEVEL"),
        ({"MAILSLOT_MAX_FILE_SIZE": "0"}, "MAILSLOT_MAX_FILE_SIZE"),
        ({"MAILSLOT_MAX_SUBMISSION_SIZE": "0K"}, "MAILSLOT_MAX_SUBMISSION_SIZE"),
    ],
)
def test_other_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_config(env)


def test_empty_variables_are_ignored_and_overrides_win(tmp_path: Path) -> None:
    config = load_config(
        {"MAILSLOT_SOURCE_ADDR": "", "MAILSLOT_DATA_DIR": "/from/env"},
        data_dir=tmp_path,
        database_url=None,
    )
    assert config.source_addr == ("127.0.0.1", 8080)
    assert config.data_dir == tmp_path
    assert config.database_url == ""


def test_repr_masks_the_database_password() -> None:
    url = "postgresql+psycopg://mailslot:s3cr3t-pw@db.internal:5432/mailslot"
    config = load_config({"MAILSLOT_DATABASE_URL": url})
    assert config.database_url == url
    text = repr(config)
    assert "s3cr3t-pw" not in text
    assert "postgresql+psycopg://mailslot:***@db.internal:5432/mailslot" in text
    assert mask_url("sqlite:////var/lib/mailslot.db") == "sqlite:////var/lib/mailslot.db"
    assert mask_url("postgresql://user@host/db") == "postgresql://user@host/db"


def test_config_is_frozen_and_copied_with_overrides() -> None:
    config = load_config({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.max_file_size = 1  # type: ignore[misc]
    changed = config.with_overrides(max_file_size=1)
    assert changed.max_file_size == 1
    assert config.max_file_size != 1


def test_source_onion_is_checked() -> None:
    onion = "http://" + "a2" * 28 + ".onion"
    assert load_config({"MAILSLOT_SOURCE_ONION": onion + "/"}).source_onion == onion
    for bad in ("http://example.com", "http://short.onion", onion + "/path", "javascript:x"):
        with pytest.raises(ConfigError):
            load_config({"MAILSLOT_SOURCE_ONION": bad})
