"""Tokens in the JSON API: ``POST /auth/token`` logs in with both factors and issues one,
``DELETE /auth/token`` revokes the caller's. The use cases are in
:mod:`mailslot.recipients.tokens`; both are audited."""

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from mailslot.recipients import tokens
from mailslot.web.api_common import ERRORS, TOKEN_ERRORS, Current, Org, call

router = APIRouter()


class TokenRequest(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=512)
    totp: str = Field(max_length=16)


class TokenResponse(BaseModel):
    token: str
    expires_at: int


@router.post("/auth/token", response_model=TokenResponse, responses=TOKEN_ERRORS)
async def token(ctx: Org, body: TokenRequest) -> TokenResponse:
    issued = await call(ctx, tokens.issue_token, body.username, body.password, body.totp)
    return TokenResponse(token=issued.token, expires_at=issued.expires_at)


@router.delete("/auth/token", status_code=204, responses=ERRORS)
async def revoke(ctx: Org, me: Current) -> Response:
    await call(ctx, tokens.revoke_token, me.user, me.state)
    return Response(status_code=204)
