"""Configuration: one frozen object, built once at start-up from flags and environment."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mailslot.crypto import DEFAULT_KDF, DecryptionError, KdfParams
from mailslot.errors import ConfigError

DEFAULT_DATA_DIR = "./mailslot-data"
DEFAULT_SOURCE_ADDR = "127.0.0.1:8080"
DEFAULT_STAFF_ADDR = "127.0.0.1:8081"
DEFAULT_OPERATOR_ADDR = "127.0.0.1:8082"
MiB = 1024 * 1024
LOG_LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error")
GiB = 1024 * MiB


def parse_addr(value: str, name: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name} must be host:port, got {value!r}")
    return host.strip("[]"), int(port)


def parse_size(value: str, name: str) -> int:
    text = value.strip().upper()
    units = {"K": 1024, "M": MiB, "G": GiB, "T": 1024 * GiB}
    factor = 1
    for suffix in ("KIB", "MIB", "GIB", "TIB", "KB", "MB", "GB", "TB", "K", "M", "G", "T"):
        if text.endswith(suffix):
            factor = units[suffix[0]]
            text = text[: -len(suffix)]
            break
    if not text.strip().isdigit():
        raise ConfigError(f"{name} must be a size like 2GiB, got {value!r}")
    return int(text) * factor


def parse_bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


@dataclass(frozen=True, slots=True)
class Config:
    """Every setting Mailslot reads. ``repr`` masks the database URL's password."""

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    source_addr: tuple[str, int] = ("127.0.0.1", 8080)
    staff_addr: tuple[str, int] = ("127.0.0.1", 8081)
    # The host operator's pages (docs/hosting.md): localhost only unless put behind a proxy.
    operator_addr: tuple[str, int] = ("127.0.0.1", 8082)
    database_url: str = ""
    # Where blobs go: empty for files under <data_dir>/blobs, or s3://BUCKET/PREFIX for an
    # S3-compatible object store (credentials from the usual AWS_* variables).
    blob_url: str = ""
    # The object store's endpoint, for services other than AWS (AWS_ENDPOINT_URL works too).
    s3_endpoint_url: str = ""
    # Public base URL of the staff interface (for the setup and invitation links).
    staff_url: str = ""
    # The source interface's onion address (http://<56 letters>.onion); when set, clearnet
    # pages carry Onion-Location so Tor Browser offers the onion service.
    source_onion: str = ""
    # Where `mailslot tor-config` put the onion services' directories (tor writes each
    # service's address into <tor_dir>/<service>/hostname).
    tor_dir: Path | None = None
    max_file_size: int = 2 * GiB
    max_submission_size: int = 8 * GiB
    max_message_chars: int = 100_000
    max_files_per_submission: int = 100
    source_session_idle: int = 30 * 60
    source_session_absolute: int = 4 * 3600
    staff_session_idle: int = 30 * 60
    staff_session_absolute: int = 12 * 3600
    api_token_lifetime: int = 8 * 3600
    setup_token_lifetime: int = 24 * 3600
    kdf: KdfParams = DEFAULT_KDF
    # At most one Argon2id per core helps (each uses one lane): more only share the cores,
    # each taking longer, and hold 64 MiB apiece. Capped at 4 on bigger machines.
    kdf_concurrency: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))
    # Key derivations allowed to wait for a slot; beyond this, requests are turned away (429).
    kdf_queue: int = 64
    # Document workers (inspecting, sanitising) running at once in this process, each allowed
    # 1 GiB; a request waits this many seconds for one, then is told to try again (429).
    document_workers: int = 2
    document_wait: int = 30
    # Instance-wide rates, per minute, that shed a flood with a clear page (0 turns one off).
    new_source_rate: int = 120
    submission_rate: int = 600
    # Mail notices: the SMTP server (smtps://user:pass@host:465, or smtp://…?starttls=1)
    # and the sender address. Unset: no mail is sent.
    smtp_url: str = ""
    smtp_from: str = "mailslot@localhost"
    # Notices are sent at the end of fixed windows of this many seconds (0: at once), so a
    # mail's time does not mirror a source's activity.
    notify_interval: int = 3600
    # How often the background jobs (notices, session clean-up) run, in seconds.
    job_interval: int = 60
    # Deadline reminders: a case's assignees hear this many hours before its next deadline.
    reminder_lead_hours: int = 48
    # Staff logins: this many failures lock the account's login for a while (doubling).
    login_failures_before_lock: int = 5
    page_size: int = 25
    # Statistics hide every count from 1 to this minus one (so that none singles out a case).
    stats_min_count: int = 5
    # The HTTP limits of both interfaces (mailslot.web.server): seconds for a request's
    # headers to arrive, seconds a request's body may send nothing, and connections at once.
    header_timeout: int = 30
    body_timeout: int = 60
    max_connections: int = 500
    # Where the source interface's quick exit leads: empty for a random Wikipedia article in
    # the source's language; else an http(s) URL, in which {lang} becomes the language's
    # BCP 47 tag (ko, zh-Hant, …).
    quick_exit_url: str = ""
    log_level: str = "info"
    # "text" (one line per record) or "json" (one JSON object per line, for a log collector).
    log_format: str = "text"
    # Organisations whose database engine (and pool) stays open at once; the least recently
    # used beyond this is closed, and opened again on its next request.
    org_cache_size: int = 16

    def __post_init__(self) -> None:
        if self.max_file_size <= 0:
            raise ConfigError("MAILSLOT_MAX_FILE_SIZE must be positive")
        if self.max_submission_size <= 0:
            raise ConfigError("MAILSLOT_MAX_SUBMISSION_SIZE must be positive")
        if self.kdf_concurrency < 1:
            raise ConfigError("MAILSLOT_KDF_CONCURRENCY must be at least 1")
        if self.kdf_queue < 0:
            raise ConfigError("MAILSLOT_KDF_QUEUE cannot be negative")
        if self.document_workers < 1 or self.document_wait < 0:
            raise ConfigError(
                "MAILSLOT_DOCUMENT_WORKERS must be at least 1, MAILSLOT_DOCUMENT_WAIT at least 0"
            )
        if self.new_source_rate < 0 or self.submission_rate < 0:
            raise ConfigError("Rates cannot be negative (0 turns a rate limit off)")
        if self.smtp_url and not self.smtp_url.startswith(("smtp://", "smtps://")):
            raise ConfigError("MAILSLOT_SMTP_URL must start with smtp:// or smtps://")
        if self.database_url:
            check_database_driver(self.database_url)
        if self.blob_url:
            split_blob_url(self.blob_url)
            if not _installed("boto3"):
                raise ConfigError(S3_MISSING)
        if self.s3_endpoint_url and not self.s3_endpoint_url.startswith(("http://", "https://")):
            raise ConfigError("MAILSLOT_S3_ENDPOINT_URL must start with http:// or https://")
        if self.job_interval < 1:
            raise ConfigError("MAILSLOT_JOB_INTERVAL must be at least 1 second")
        if not 0 <= self.reminder_lead_hours <= 24 * 365:
            raise ConfigError("MAILSLOT_REMINDER_LEAD_HOURS must be from 0 to 8760")
        if self.login_failures_before_lock < 1:
            raise ConfigError("MAILSLOT_LOGIN_FAILURES_BEFORE_LOCK must be at least 1")
        if self.stats_min_count < 1:
            raise ConfigError("MAILSLOT_STATS_MIN_COUNT must be at least 1")
        if self.header_timeout < 1 or self.body_timeout < 1:
            raise ConfigError(
                "MAILSLOT_HEADER_TIMEOUT and MAILSLOT_BODY_TIMEOUT must be at least 1"
            )
        if self.max_connections < 2:
            raise ConfigError("MAILSLOT_MAX_CONNECTIONS must be at least 2")
        if self.org_cache_size < 1:
            raise ConfigError("MAILSLOT_ORG_CACHE_SIZE must be at least 1")
        if self.quick_exit_url and not _QUICK_EXIT_RE.fullmatch(self.quick_exit_url):
            raise ConfigError(
                "MAILSLOT_QUICK_EXIT_URL must be an http:// or https:// URL without spaces, "
                "quotes or braces other than {lang}"
            )

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("database_url", "smtp_url", "s3_endpoint_url"):
                value = mask_url(value)
            shown.append(f"{f.name}={value!r}")
        return f"Config({', '.join(shown)})"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'mailslot.sqlite3').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def s3_location(self) -> tuple[str, str] | None:
        """The bucket and key prefix of ``MAILSLOT_BLOB_URL``; None for blobs in files."""
        return split_blob_url(self.blob_url) if self.blob_url else None

    @property
    def resolved_staff_url(self) -> str:
        if self.staff_url:
            return self.staff_url.rstrip("/")
        host, port = self.staff_addr
        return f"http://{host if ':' not in host else f'[{host}]'}:{port}"

    def with_overrides(self, **changes: Any) -> Config:
        return replace(self, **changes)


S3_MISSING = (
    "MAILSLOT_BLOB_URL is an s3:// URL, which needs the S3 client: pip install 'mailslot[s3]'"
)
# S3's rules for bucket names; key prefixes are kept to plain path segments.
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_SEGMENT_RE = re.compile(r"[A-Za-z0-9_.-]+")


def split_blob_url(url: str) -> tuple[str, str]:
    """``s3://BUCKET/PREFIX`` as (bucket, prefix), the prefix empty or ending in ``/``."""
    scheme, sep, rest = url.partition("://")
    bucket, _, prefix = rest.partition("/")
    segments = [s for s in prefix.split("/") if s]
    if (
        scheme != "s3"
        or not sep
        or not _BUCKET_RE.fullmatch(bucket)
        or not all(_SEGMENT_RE.fullmatch(s) and s not in (".", "..") for s in segments)
    ):
        raise ConfigError(
            f"MAILSLOT_BLOB_URL must look like s3://BUCKET/PREFIX (S3 bucket rules; a prefix "
            f"of letters, digits, '.', '_', '-' and '/'), got {url!r}"
        )
    return bucket, "".join(f"{s}/" for s in segments)


POSTGRESQL_MISSING = (
    "MAILSLOT_DATABASE_URL is a PostgreSQL URL, which needs the psycopg driver: "
    "pip install 'mailslot[postgresql]'"
)


def check_database_driver(url: str) -> None:
    """Refuse a PostgreSQL URL whose driver is not installed, with the command that installs
    it (not a traceback when the first connection imports it)."""
    backend, _, driver = url.partition("://")[0].partition("+")
    if backend != "postgresql":
        return
    if driver not in ("", "psycopg"):
        return  # another driver, chosen on purpose: SQLAlchemy names it if it is missing
    if driver == "" and not _installed("psycopg2"):
        raise ConfigError(
            "MAILSLOT_DATABASE_URL must name Mailslot's PostgreSQL driver: "
            "postgresql+psycopg://USER:PASSWORD@HOST/DATABASE"
        )
    if driver == "psycopg" and not _installed("psycopg"):
        raise ConfigError(POSTGRESQL_MISSING)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: set to None in sys.modules (blocked)
        return False


def mask_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


def _parse_int(value: str, name: str) -> int:
    if not value.strip().isdigit():
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    return int(value)


_ONION_RE = re.compile(r"https?://[a-z2-7]{56}\.onion")
# An absolute http(s) URL of printable ASCII without quotes, angle brackets or braces, but
# for any number of "{lang}".
_QUICK_EXIT_RE = re.compile(r"https?://[^\s\"'<>{}\\]+(?:\{lang\}[^\s\"'<>{}\\]*)*")
QUICK_EXIT_PATTERN = _QUICK_EXIT_RE  # an organisation's own choice is checked alike


def _parse_onion(value: str, name: str) -> str:
    value = value.strip().rstrip("/")
    if not _ONION_RE.fullmatch(value):
        raise ConfigError(f"{name} must look like http://<56 letters and digits>.onion")
    return value


def _parse_choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _parse_kdf(value: str, name: str) -> KdfParams:
    try:
        return KdfParams.decode(value)
    except DecryptionError:
        raise ConfigError(f"{name} must look like argon2id$m=65536,t=3,p=1") from None


# Environment variable → (field, parser).
_ENV: dict[str, tuple[str, Any]] = {
    "MAILSLOT_DATA_DIR": ("data_dir", lambda v, n: Path(v)),
    "MAILSLOT_SOURCE_ADDR": ("source_addr", parse_addr),
    "MAILSLOT_STAFF_ADDR": ("staff_addr", parse_addr),
    "MAILSLOT_OPERATOR_ADDR": ("operator_addr", parse_addr),
    "MAILSLOT_DATABASE_URL": ("database_url", lambda v, n: v),
    "MAILSLOT_BLOB_URL": ("blob_url", lambda v, n: v),
    "MAILSLOT_S3_ENDPOINT_URL": ("s3_endpoint_url", lambda v, n: v),
    "MAILSLOT_STAFF_URL": ("staff_url", lambda v, n: v),
    "MAILSLOT_SOURCE_ONION": ("source_onion", _parse_onion),
    "MAILSLOT_SMTP_URL": ("smtp_url", lambda v, n: v),
    "MAILSLOT_SMTP_FROM": ("smtp_from", lambda v, n: v),
    "MAILSLOT_NOTIFY_INTERVAL": ("notify_interval", _parse_int),
    "MAILSLOT_JOB_INTERVAL": ("job_interval", _parse_int),
    "MAILSLOT_REMINDER_LEAD_HOURS": ("reminder_lead_hours", _parse_int),
    "MAILSLOT_TOR_DIR": ("tor_dir", lambda v, n: Path(v)),
    "MAILSLOT_MAX_FILE_SIZE": ("max_file_size", parse_size),
    "MAILSLOT_MAX_SUBMISSION_SIZE": ("max_submission_size", parse_size),
    "MAILSLOT_KDF_CONCURRENCY": ("kdf_concurrency", _parse_int),
    "MAILSLOT_KDF_QUEUE": ("kdf_queue", _parse_int),
    "MAILSLOT_DOCUMENT_WORKERS": ("document_workers", _parse_int),
    "MAILSLOT_DOCUMENT_WAIT": ("document_wait", _parse_int),
    "MAILSLOT_NEW_SOURCE_RATE": ("new_source_rate", _parse_int),
    "MAILSLOT_SUBMISSION_RATE": ("submission_rate", _parse_int),
    "MAILSLOT_LOGIN_FAILURES_BEFORE_LOCK": ("login_failures_before_lock", _parse_int),
    "MAILSLOT_STATS_MIN_COUNT": ("stats_min_count", _parse_int),
    "MAILSLOT_HEADER_TIMEOUT": ("header_timeout", _parse_int),
    "MAILSLOT_BODY_TIMEOUT": ("body_timeout", _parse_int),
    "MAILSLOT_MAX_CONNECTIONS": ("max_connections", _parse_int),
    "MAILSLOT_LOG_LEVEL": ("log_level", lambda v, n: _parse_choice(v, n, LOG_LEVELS)),
    "MAILSLOT_LOG_FORMAT": ("log_format", lambda v, n: _parse_choice(v, n, ("text", "json"))),
    "MAILSLOT_ORG_CACHE_SIZE": ("org_cache_size", _parse_int),
    "MAILSLOT_QUICK_EXIT_URL": ("quick_exit_url", lambda v, n: v.strip()),
    "MAILSLOT_KDF": ("kdf", _parse_kdf),
}


def load_config(environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
    """Build the configuration: defaults, then environment, then explicit ``overrides``
    (command-line flags). Raises :class:`ConfigError` on the first bad value."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for var, (name, kind) in _ENV.items():
        if env.get(var):
            values[name] = kind(env[var], var)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Config(**values)
