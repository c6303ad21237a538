"""The staff JSON API under ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``).

One ``APIRouter`` per part (``api_*.py``); each endpoint resolves the request's organisation,
calls a use case and shapes its answer. Domain errors become JSON here, in one place, with
the HTTP status from :mod:`mailslot.web.errors`.
"""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from mailslot import errors, i18n
from mailslot.runtime import Runtime
from mailslot.web import (
    api_audit,
    api_auth,
    api_cases,
    api_casework,
    api_documents,
    api_drops,
    api_identity,
    api_questionnaires,
    api_retention,
    api_stats,
)
from mailslot.web.errors import retry_headers, status_for


async def service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.ServiceError)  # noqa: S101 - registered for it
    return JSONResponse(
        {"detail": i18n.english_message(exc.message, exc.plural, exc.params)},
        status_code=status_for(exc),
        headers=retry_headers(exc),
    )


def create_api(runtime: Runtime) -> FastAPI:
    """The API app; nothing of ``runtime`` is touched until a request comes."""
    api = FastAPI(
        title="Mailslot staff API",
        version="1",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        description="Read and answer cases. Authenticate with POST /auth/token, then send "
        "`Authorization: Bearer <token>`.",
    )
    api.state.runtime = runtime
    api.add_exception_handler(errors.ServiceError, service_error)
    for part in (
        api_auth,
        api_cases,
        api_audit,
        api_casework,
        api_retention,
        api_stats,
        api_documents,
        api_drops,
        api_questionnaires,
        api_identity,
    ):
        api.include_router(part.router)
    return api
