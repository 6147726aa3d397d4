"""Who is calling the HTTP API, /me and /tokens.

Two ways in, tried in this order:

- ``Authorization: Bearer <token>``, a personal API token. A request that
  sends one must send a valid one: it is refused (401) rather than quietly
  falling back to the session cookie. No CSRF token is needed, since another
  site's page cannot make a browser attach the header.
- The session cookie of the browser client. Unsafe methods (POST, DELETE) also
  need the CSRF token in ``X-CSRFToken``, exactly as Django forms do.
"""

from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from ninja import Field, Path, Router, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from accounts import services
from accounts.identity import user_payload
from accounts.models import ApiToken
from project import validators
from project.errors import ClientError, errors

# Authentication
# ------------------------------------------------------------------------------


class BearerAuth(HttpBearer):
    """A personal API token; a wrong or revoked one is a 401, never a fallback."""

    def authenticate(self, request: HttpRequest, token: str) -> AbstractBaseUser:
        found = services.token_find(token.strip())
        if found is None:
            raise AuthenticationError(message="Invalid or revoked API token.")
        request.token_authenticated = True
        request.api_token_id = found.pk  # a long poll ends when this token is revoked
        return found.user


class SessionAuth(APIKeyCookie):
    """The browser's session; unsafe methods must carry the CSRF token."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        # CSRF is checked in authenticate(), once a session user is found, so a
        # request with no credentials at all gets a 401 rather than a CSRF 403.
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> AbstractBaseUser | None:
        user = request.user
        if not user.is_authenticated:
            return None
        if check_csrf(request) is not None:
            raise HttpError(403, "CSRF check failed: send the csrftoken cookie in X-CSRFToken.")
        return user


# Schemas
# ------------------------------------------------------------------------------


class UserOut(Schema):
    username: str
    display_name: str
    avatar_url: str


class MeOut(UserOut):
    email: str
    is_staff: bool


TOKEN_NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length


class TokenIn(Schema):
    name: str = Field(
        min_length=1, max_length=TOKEN_NAME_MAX_LENGTH, description="What the token is for."
    )


class TokenOut(Schema):
    id: int
    name: str
    prefix: str = Field(description="The token's first characters, to tell tokens apart.")
    created_at: datetime
    last_used_at: datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(description="The token itself. It is shown once and never again.")


def _token_payload(token: ApiToken) -> dict:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created,
        "last_used_at": token.last_used_at,
    }


# Routes
# ------------------------------------------------------------------------------

router = Router(tags=["account"])
TOKEN_ID_MAX = validators.ID_MAX


@router.get("/me", response={200: MeOut, **errors()}, summary="The current user")
def me(request: HttpRequest) -> dict:
    user = request.auth
    return {**user_payload(user), "email": user.email, "is_staff": user.is_staff}


@router.get("/tokens", response={200: list[TokenOut], **errors()}, summary="My API tokens")
def token_list(request: HttpRequest) -> list[dict]:
    return [_token_payload(token) for token in request.auth.api_tokens.all()]


@router.post(
    "/tokens",
    response={201: TokenCreatedOut, **errors(403)},
    summary="Create an API token",
    description="Needs a browser session (and its CSRF token): a token cannot mint tokens, "
    "so revoking a leaked one is enough. The value is in the response, once.",
)
def token_create(request: HttpRequest, payload: TokenIn) -> Status:
    if getattr(request, "token_authenticated", False):
        raise ClientError("forbidden", "Create tokens from a signed-in session, not with a token.")
    name = validators.text(payload.name, field="name", max_length=TOKEN_NAME_MAX_LENGTH, strip=True)
    token, raw = services.token_create(user=request.auth, name=name)
    return Status(201, {**_token_payload(token), "token": raw})


@router.delete(
    "/tokens/{token_id}",
    response={204: None, **errors(404)},
    summary="Revoke an API token",
)
def token_revoke(request: HttpRequest, token_id: int = Path(..., ge=1, le=TOKEN_ID_MAX)) -> Status:
    if not services.token_revoke(user=request.auth, token_id=token_id):
        raise ClientError("not_found", "No such token.")
    return Status(204, None)
