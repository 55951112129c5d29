"""Who is asking: the signed-in user of a dashboard request, role checks and CSRF checks.

Three ways in, one ``SignedInUser``: a session cookie (set by the password or OIDC sign-in),
or a trusted reverse proxy's header (oauth2-proxy's ``X-Forwarded-Email``), believed only from
the configured proxy addresses. Either way the user must have an active row in ``users``: that
row holds the role.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request

from successcrew.domain import roles
from successcrew.settings import Settings
from successcrew.web.auth.sessions import COOKIE, SessionCodec
from successcrew.web.signatures import same_secret

#: The form field every dashboard POST carries (``{{ csrf_field() }}`` in templates).
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class SignedInUser:
    """The person behind a request."""

    email: str
    name: str
    role: str
    #: ``password``, ``oidc`` or ``proxy``.
    method: str = "password"
    #: This session's CSRF token (the hidden field of every form).
    csrf_token: str = ""


class SignInRequired(Exception):
    """No (valid) session: the answer is a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PermissionDenied(Exception):
    """Signed in, but this role may not do this (403 with the reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CsrfRejected(Exception):
    """A form without its CSRF token, with another session's, or from another origin (403)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthUnconfigured(Exception):
    """The dashboard cannot sign anyone in (no session secret): 503 saying what to set."""


def _networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for part in value.split(","):
        part = part.strip()
        if part:
            nets.append(ipaddress.ip_network(part, strict=False))
    return tuple(nets)


class Auth:
    """Sign-in configuration and state loaded once per process (``app.state.auth``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        secret = settings.session_secret.get_secret_value() if settings.session_secret else None
        self.codec = SessionCodec(secret, settings.session_hours * 3600) if secret else None
        self.proxy_header = settings.auth_proxy_header.strip().lower()
        self.proxies = _networks(settings.auth_proxies)

    def require_codec(self) -> SessionCodec:
        """The session codec, or AuthUnconfigured when there is no session secret."""
        if self.codec is None:
            raise AuthUnconfigured()
        return self.codec

    def from_trusted_proxy(self, request: Request) -> bool:
        """True when the request's peer (before X-Forwarded-For) is a configured auth proxy."""
        peer = request.scope.get("successcrew.peer") or request.scope.get("client")
        if not self.proxies or not peer:
            return False
        try:
            address = ipaddress.ip_address(peer[0])
        except ValueError:
            return False
        return any(address in net for net in self.proxies)

    def cookie_secure(self, request: Request) -> bool:
        """Whether the session cookie gets ``Secure`` (HTTPS, or forced by the setting)."""
        mode = self.settings.secure_cookies
        return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def auth_of(request: Request) -> Auth:
    """The process's ``Auth``."""
    auth: Auth = request.app.state.auth
    return auth


def _lookup(request: Request, email: str) -> tuple[str, str] | None:
    from successcrew.services.platform.users import active_user
    from successcrew.store.db import transaction

    with transaction(request.app.state.ctx.engine) as session:
        user = active_user(session, email)
    return (user.name, user.role) if user is not None else None


def _session(request: Request, sid: str, email: str) -> tuple[str, str] | None:
    """(name, role) of the cookie's user while its session is live (not signed out, not
    revoked, not expired) and the user active; None otherwise."""
    from successcrew.services.platform.sign_in import session_user
    from successcrew.store.db import transaction

    ctx = request.app.state.ctx
    with transaction(ctx.engine) as session:
        user = session_user(session, sid, now=ctx.wall_now())
    if user is None or user.email != email:
        return None
    return user.name, user.role


def current_user(request: Request) -> SignedInUser | None:
    """The signed-in user of ``request``, or None (cached on the request)."""
    if hasattr(request.state, "user"):
        cached: SignedInUser | None = request.state.user
        return cached
    auth = auth_of(request)
    codec = auth.require_codec()
    user = None
    if auth.proxy_header and auth.from_trusted_proxy(request):
        email = request.headers.get(auth.proxy_header, "").strip().lower()
        found = _lookup(request, email) if email else None
        if found is not None:
            user = SignedInUser(email, *found, "proxy", codec.csrf_token("proxy:" + email))
    if user is None:
        data = codec.read(request.cookies.get(COOKIE))
        found = _session(request, data.sid, data.email) if data is not None else None
        if data is not None and found is not None:
            user = SignedInUser(data.email, *found, data.method, codec.csrf_token(data.sid))
    request.state.user = user
    return user


def signed_in_user(request: Request) -> SignedInUser:
    """Dependency: the signed-in user; without one, a 303 to ``/login?next=<this path>``."""
    user = current_user(request)
    if user is None:
        path = request.url.path
        if request.url.query:
            path += "?" + request.url.query
        raise SignInRequired(path if request.method == "GET" else "/")
    return user


def require(action: str) -> Callable[..., SignedInUser]:
    """Dependency: the signed-in user, when their role may take ``action`` at all (else 403).

    Whether it may on one account (a csm's own book) is ``ensure(user, action, owner)``.
    """

    def dependency(user: SignedInUser = Depends(signed_in_user)) -> SignedInUser:
        if not roles.role_may(user.role, action):
            raise PermissionDenied(roles.check(user, action).reason)
        return user

    return dependency


def ensure(user: SignedInUser, action: str, account_owner: str | None = None) -> None:
    """PermissionDenied (403) unless ``user`` may take ``action`` on that account."""
    answer = roles.check(user, action, account_owner)
    if not answer:
        raise PermissionDenied(answer.reason)


def same_origin(request: Request) -> bool:
    """True unless the browser says the form came from another site (Origin, else Referer).

    A browser sends Origin on every cross-site POST; comparing it with the Host it was sent to
    (or the configured public address) refuses a form another site made the user submit.
    """
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source is None
    parts = urlsplit(source)
    seen = f"{parts.scheme}://{parts.netloc}".lower()
    host = request.headers.get("host", "").lower()
    allowed = {f"http://{host}", f"https://{host}"}
    public = urlsplit(auth_of(request).settings.public_base_url)
    allowed.add(f"{public.scheme}://{public.netloc}".lower())
    return seen in allowed


async def verify_csrf(request: Request, user: SignedInUser = Depends(signed_in_user)) -> None:
    """Dependency for every dashboard POST: the session's CSRF token, from this origin."""
    if not same_origin(request):
        raise CsrfRejected("the form was sent from another site")
    form = await request.form()
    token = form.get(CSRF_FIELD)
    if not isinstance(token, str) or not same_secret(token, user.csrf_token):
        raise CsrfRejected("the form's security token is missing or belongs to another session")


def sign_in_location(next_path: str) -> str:
    """``/login?next=...`` for a path on this site."""
    return "/login?next=" + quote(next_path, safe="/")


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site (open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(c in value for c in "\\\r\n\t") or urlsplit(value).netloc:
        return "/"
    return value
