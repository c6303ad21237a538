"""``/healthz`` and ``/readyz`` on the staff interface, for a supervisor or load balancer.

``/healthz`` answers while the process serves requests at all. ``/readyz`` also checks what a
request needs: the database answers and is migrated to this version's head, and the blob
store accepts a write (the default organisation's database and blob store). Neither reveals
anything beyond "ok" or the name of what failed.
"""

from __future__ import annotations

import anyio.to_thread
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mailslot.context import OrgContext
from mailslot.db.migrate import HEAD, stored_revision
from mailslot.runtime import Runtime


class HealthViews:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def routes(self) -> list[BaseRoute]:
        return [Route("/healthz", self.healthz), Route("/readyz", self.readyz)]

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        checks = await anyio.to_thread.run_sync(self.check)
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    def check(self) -> dict[str, bool]:
        org = self.runtime.default
        return {
            "database": self._database(org),
            "migrations": self._migrations(org),
            "blob_store": self._blob_store(org),
        }

    @staticmethod
    def _database(org: OrgContext) -> bool:
        try:
            with org.engine.connect() as connection:
                return bool(connection.execute(text("SELECT 1")).scalar() == 1)
        except Exception:  # any failure at all means "not ready"
            return False

    @staticmethod
    def _migrations(org: OrgContext) -> bool:
        try:
            return stored_revision(org.engine) == HEAD
        except Exception:  # any failure at all means "not ready"
            return False

    @staticmethod
    def _blob_store(org: OrgContext) -> bool:
        try:
            writer = org.blobs.create()
            writer.abort()
            return True
        except Exception:  # any failure at all means "not ready"
            return False
