"""The manifests a sealing machine has seen before, to notice a fork: two different
manifests with the same version, both validly signed by the same key, mean that the key
signed two histories (a seized or hostile server, or a stolen key), and that whoever
published the second one may be trying to redirect drops.

One JSON file per signing key, named by the key's fingerprint, holding only the digest of
each version seen (``{"format": …, "versions": {"1": "<hex>", …}}``): no organisation name
and no drop recipient, since these files are a trace on the source's machine. Files are
written whole, then renamed into place, readable by their owner only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from mailslot.drops.errors import ManifestForked, ManifestInvalid
from mailslot.drops.manifest import Manifest

FORMAT: Final = "mailslot-seen-manifests/v1"


def default_directory() -> Path:
    """``$XDG_DATA_HOME/mailslot/manifests``, or ``~/.local/share/mailslot/manifests``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mailslot" / "manifests"


@dataclass(frozen=True, slots=True)
class SeenReport:
    """What recording a chain found: the latest version seen before (None if the key is
    new here), so a caller can warn about a chain older than one seen before."""

    latest_before: int | None
    latest_now: int

    @property
    def rolled_back(self) -> bool:
        return self.latest_before is not None and self.latest_now < self.latest_before


class SeenManifests:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, manifests: Sequence[Manifest]) -> Path:
        return self.directory / (manifests[0].fingerprint.replace(" ", "") + ".json")

    def _load(self, path: Path) -> dict[int, str]:
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            raise ManifestInvalid(f"{path} is not a record of seen manifests") from None
        versions = obj.get("versions") if isinstance(obj, dict) else None
        if obj.get("format") != FORMAT or not isinstance(versions, dict):
            raise ManifestInvalid(f"{path} is not a record of seen manifests")
        try:
            return {int(k): str(v) for k, v in versions.items()}
        except ValueError:
            raise ManifestInvalid(f"{path} is not a record of seen manifests") from None

    def check(self, manifests: Sequence[Manifest]) -> None:
        """Raise :class:`ManifestForked` if a version here differs from the one seen before
        (call it on a chain that verified)."""
        seen = self._load(self._path(manifests))
        for manifest in manifests:
            before = seen.get(manifest.version)
            if before is not None and before != manifest.digest():
                raise ManifestForked(
                    f"version {manifest.version} differs from the version {manifest.version} "
                    "seen before, signed by the same key: the key manifest has forked"
                )

    def record(self, manifests: Sequence[Manifest]) -> SeenReport:
        """Remember every version of a verified chain (keeping what was seen first)."""
        path = self._path(manifests)
        seen = self._load(path)
        latest_before = max(seen) if seen else None
        for manifest in manifests:
            seen.setdefault(manifest.version, manifest.digest())
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        body = {"format": FORMAT, "versions": {str(k): v for k, v in sorted(seen.items())}}
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(body, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        return SeenReport(latest_before=latest_before, latest_now=manifests[-1].version)
