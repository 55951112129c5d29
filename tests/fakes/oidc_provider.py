"""A stand-in OpenID Connect provider on loopback: discovery, /authorize (signs in whoever the
test chose, at once), /token (checks the client secret and the PKCE verifier), /jwks (RS256)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


@dataclass
class FakeOidc:
    """Set ``email`` (and optionally ``claims``) before a sign-in; read ``token_requests``."""

    server: HTTPServer
    client_id: str
    client_secret: str
    email: str = ""
    claims: dict[str, Any] = field(default_factory=dict)
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "k1"}))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    token_requests: int = 0

    @property
    def issuer(self) -> str:
        return self.server.url_for("").rstrip("/")

    def install(self) -> FakeOidc:
        s = self.server
        s.expect_request("/.well-known/openid-configuration").respond_with_handler(self._discovery)
        s.expect_request("/authorize").respond_with_handler(self._authorize)
        s.expect_request("/token", method="POST").respond_with_handler(self._token)
        s.expect_request("/jwks").respond_with_handler(self._jwks)
        return self

    def _discovery(self, _request: Request) -> Response:
        return Response(
            json.dumps(
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": self.issuer + "/authorize",
                    "token_endpoint": self.issuer + "/token",
                    "jwks_uri": self.issuer + "/jwks",
                    "id_token_signing_alg_values_supported": ["RS256"],
                }
            ),
            content_type="application/json",
        )

    def _authorize(self, request: Request) -> Response:
        args = request.args
        if args.get("client_id") != self.client_id or args.get("response_type") != "code":
            return Response("bad client", status=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "nonce": args.get("nonce", ""),
            "challenge": args.get("code_challenge", ""),
            "redirect_uri": args.get("redirect_uri", ""),
            "email": self.email,
        }
        query = urlencode({"code": code, "state": args.get("state", "")})
        return Response(status=302, headers={"Location": f"{args['redirect_uri']}?{query}"})

    def _token(self, request: Request) -> Response:
        self.token_requests += 1
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (self.client_id, self.client_secret):
            return Response(json.dumps({"error": "invalid_client"}), status=401)
        grant = self.codes.pop(request.form.get("code", ""), None)
        verifier = request.form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if (
            grant is None
            or digest.rstrip(b"=").decode() != grant["challenge"]
            or request.form.get("redirect_uri") != grant["redirect_uri"]
        ):
            return Response(json.dumps({"error": "invalid_grant"}), status=400)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": grant["email"],
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            "email": grant["email"],
            "email_verified": True,
            **self.claims,
        }
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
        return Response(
            json.dumps({"access_token": "at", "token_type": "Bearer", "id_token": id_token}),
            content_type="application/json",
        )

    def _jwks(self, _request: Request) -> Response:
        return Response(
            json.dumps({"keys": [self.key.as_dict(private=False)]}),
            content_type="application/json",
        )
