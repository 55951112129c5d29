"""Sign-in through an OpenID Connect provider (authorisation code flow with PKCE).

``/login/oidc`` sends the browser to the provider with a fresh state, nonce and PKCE verifier
(kept in a signed cookie for ten minutes); ``/login/oidc/callback`` exchanges the code, checks
the ID token (signature against the provider's JWKS, issuer, audience, expiry, nonce) and signs
in the user whose e-mail it names, if an admin has added them. The provider's discovery document
and keys are fetched on first use and kept for an hour.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any, cast

import httpx
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from successcrew.web.auth.identity import auth_of, safe_next
from successcrew.web.auth.login_pages import login_page, start_session
from successcrew.web.pages import message
from successcrew.web.signatures import same_secret

if TYPE_CHECKING:
    from joserfc.jwk import KeySetSerialization

log = logging.getLogger("successcrew.web")
router = APIRouter()

FLOW_COOKIE = "successcrew_oidc"
FLOW_SECONDS = 600
CACHE_SECONDS = 3600
ALGORITHMS = ["RS256", "ES256", "PS256"]


class OidcError(Exception):
    """The provider could not be used or its answer did not check out (said on the page)."""


class Provider:
    """The configured provider's endpoints and keys, fetched lazily and cached."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer.rstrip("/")
        self._lock = threading.Lock()
        self._config: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._fetched = 0.0

    def _get(self, url: str) -> dict[str, Any]:
        try:
            answer = httpx.get(url, timeout=10)
            answer.raise_for_status()
            document = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcError(f"the sign-in provider did not answer ({type(exc).__name__})") from None
        if not isinstance(document, dict):
            raise OidcError("the sign-in provider's answer is not a JSON object")
        return document

    def config(self, refresh: bool = False) -> tuple[dict[str, Any], KeySet]:
        """The discovery document and the signing keys."""
        with self._lock:
            stale = time.monotonic() - self._fetched > CACHE_SECONDS
            if refresh or stale or self._config is None or self._keys is None:
                config = self._get(self.issuer + "/.well-known/openid-configuration")
                if str(config.get("issuer", "")).rstrip("/") != self.issuer:
                    raise OidcError("the provider's discovery document names another issuer")
                jwks = cast("KeySetSerialization", self._get(str(config["jwks_uri"])))
                self._keys = KeySet.import_key_set(jwks)
                self._config = config
                self._fetched = time.monotonic()
            return self._config, self._keys


def _provider(request: Request) -> Provider:
    state = request.app.state
    if getattr(state, "oidc_provider", None) is None:
        state.oidc_provider = Provider(auth_of(request).settings.oidc_issuer)
    provider: Provider = state.oidc_provider
    return provider


def _flow_serializer(request: Request) -> URLSafeTimedSerializer:
    secret = auth_of(request).settings.session_secret
    assert secret is not None  # require_codec() ran first
    return URLSafeTimedSerializer(secret.get_secret_value(), salt="successcrew.dashboard.oidc")


def _redirect_uri(request: Request) -> str:
    return auth_of(request).settings.public_base_url.rstrip("/") + "/login/oidc/callback"


def _refuse(sentence: str, status: int = 400) -> Response:
    return message("Sign-in failed", sentence, status, hint="Go back to /login and try again.")


@router.get("/login/oidc", include_in_schema=False)
def start(request: Request, next: str = "/") -> Response:
    """Send the browser to the provider."""
    auth = auth_of(request)
    auth.require_codec()
    settings = auth.settings
    if not settings.oidc_issuer or not settings.oidc_client_id:
        return _refuse("Single sign-on is not set up here (SUCCESSCREW_OIDC_ISSUER).", 404)
    try:
        config, _keys = _provider(request).config()
    except OidcError as exc:
        return _refuse(f"Cannot reach the sign-in provider: {exc}.", 502)
    state, nonce, verifier = (secrets.token_urlsafe(24) for _ in range(3))
    target = add_params_to_uri(
        str(config["authorization_endpoint"]),
        [
            ("response_type", "code"),
            ("client_id", settings.oidc_client_id),
            ("redirect_uri", _redirect_uri(request)),
            ("scope", "openid email profile"),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", create_s256_code_challenge(verifier)),
            ("code_challenge_method", "S256"),
        ],
    )
    flow = _flow_serializer(request).dumps(
        {"state": state, "nonce": nonce, "verifier": verifier, "next": safe_next(next)}
    )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        flow,
        max_age=FLOW_SECONDS,
        path="/login/oidc",
        httponly=True,
        samesite="lax",
        secure=auth.cookie_secure(request),
    )
    return response


def _id_token_claims(request: Request, code: str, flow: dict[str, str]) -> dict[str, Any]:
    settings = auth_of(request).settings
    provider = _provider(request)
    config, keys = provider.config()
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else ""
    try:
        answer = httpx.post(
            str(config["token_endpoint"]),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": _redirect_uri(request),
                "code_verifier": flow["verifier"],
            },
            auth=(settings.oidc_client_id, secret),
            timeout=10,
        )
        tokens = answer.json() if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcError(f"the token request failed ({type(exc).__name__})") from None
    if not isinstance(tokens, dict) or not isinstance(tokens.get("id_token"), str):
        raise OidcError(f"the provider refused the sign-in code (HTTP {answer.status_code})")
    try:
        try:
            token = jwt.decode(tokens["id_token"], keys, algorithms=ALGORITHMS)
        except JoseError:
            # The provider may have rotated its keys since they were fetched.
            _config, keys = provider.config(refresh=True)
            token = jwt.decode(tokens["id_token"], keys, algorithms=ALGORITHMS)
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": settings.oidc_client_id},
            exp={"essential": True},
            nonce={"essential": True, "value": flow["nonce"]},
        ).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise OidcError(f"the ID token did not check out ({type(exc).__name__})") from None
    return dict(token.claims)


@router.get("/login/oidc/callback", include_in_schema=False)
def callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
    """Back from the provider: check everything, then sign in (nothing is written)."""
    from successcrew.services.platform.users import active_user
    from successcrew.store.db import transaction

    auth = auth_of(request)
    auth.require_codec()
    if error:
        return _refuse(f"The sign-in provider said: {error[:100]}.", 401)
    try:
        flow = _flow_serializer(request).loads(
            request.cookies.get(FLOW_COOKIE, ""), max_age=FLOW_SECONDS
        )
    except BadSignature:
        return _refuse("This sign-in has expired or was not started here.")
    if not code or not same_secret(state, str(flow.get("state", ""))):
        return _refuse("This sign-in was not started here (the state does not match).")
    try:
        claims = _id_token_claims(request, code, flow)
    except OidcError as exc:
        log.warning("OIDC sign-in refused: %s", exc)
        return _refuse(f"The sign-in could not be checked: {exc}.", 401)
    email = str(claims.get("email") or "").strip().lower()
    if not email or claims.get("email_verified") is False:
        return _refuse("The provider did not give a verified e-mail address.", 401)
    with transaction(request.app.state.ctx.engine) as session:
        user = active_user(session, email)
    if user is None:
        return login_page(
            request,
            flow.get("next", "/"),
            error=f"{email} may not use this dashboard yet: ask an admin to add you "
            "(successcrew users add).",
            status=403,
        )
    response = start_session(request, auth, user.email, "oidc", flow.get("next", "/"))
    response.delete_cookie(FLOW_COOKIE, path="/login/oidc")
    return response
