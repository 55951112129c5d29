"""The one HTTP policy every provider client uses: timeouts, User-Agent, retries, redaction.

Retry decisions and pacing arithmetic are pure functions (``is_retryable_status``,
``retry_after_seconds``, ``backoff_seconds``, ``pace_delay``); :class:`ProviderClient` is the thin
I/O shell around httpx and tenacity that applies them.

A provider's error answer is never kept verbatim: :func:`provider_error_detail` reads its error
code and message, and :class:`ProviderError` keeps the status, that code and the message, each
sanitised (``successcrew.redaction``) and then bounded.
"""

from __future__ import annotations

import email.utils
import importlib.metadata
import logging
import random
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import tenacity
from pydantic import SecretStr

from successcrew.definitions.thresholds import RetryPolicy
from successcrew.errors import SuccessCrewError
from successcrew.redaction import hold, sanitise

log = logging.getLogger(__name__)


def _version() -> str:
    try:
        return importlib.metadata.version("successcrew")
    except importlib.metadata.PackageNotFoundError:  # running from a bare checkout
        return "0"


USER_AGENT = f"successcrew/{_version()}"
#: Bounds on what is kept of a provider's answer: its error code, its message, and the whole
#: error text (method, path, status, code and message).
CODE_LIMIT = 64
DETAIL_LIMIT = 200
MESSAGE_LIMIT = 500

#: Statuses worth another try: rate limited or the provider's own trouble. Other 4xx mean our
#: request is wrong and would fail the same way again.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Only these statuses carry a Retry-After we must honour (the issue and RFC 9110 agree).
RETRY_AFTER_STATUSES = frozenset({429, 503})


class ProviderError(SuccessCrewError):
    """A provider call failed. ``retryable`` says whether a later attempt may succeed.

    ``status`` is the HTTP status (None when no answer came), ``code`` the provider's own error
    code and ``message`` the text after the provider name. Both are sanitised here, whoever
    builds the error, and bounded (``CODE_LIMIT``, ``MESSAGE_LIMIT``): no token, whole or cut,
    reaches an error text, however the provider echoed it.
    """

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        code: str | None = None,
    ) -> None:
        self.provider = provider
        self.status = status
        self.retryable = retryable
        self.code = sanitise(str(code), limit=CODE_LIMIT) if code is not None else None
        self.message = sanitise(message, limit=MESSAGE_LIMIT)
        super().__init__(f"{provider}: {self.message}")


class ProviderAuthError(ProviderError):
    """The credentials were refused (401/403 or a provider-specific auth error)."""


class ProviderResponseError(ProviderError):
    """The provider answered with something we cannot read (malformed JSON, wrong shape)."""


# --- pure decisions ------------------------------------------------------------------------


def is_retryable_status(status: int) -> bool:
    """True for 429 and 5xx gateway/server errors; never for other 4xx."""
    return status in RETRYABLE_STATUSES or 500 <= status <= 599


def retry_after_seconds(
    status: int, headers: Mapping[str, str], now: datetime | None = None
) -> float | None:
    """Seconds the provider asked us to wait (Retry-After as delta-seconds or HTTP date).

    Only 429 and 503 answers are read; a missing or unreadable header gives None.
    """
    if status not in RETRY_AFTER_STATUSES:
        return None
    raw = headers.get("retry-after") or headers.get("Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_seconds(
    attempt: int, policy: RetryPolicy, *, rng: Callable[[], float] = random.random
) -> float:
    """Exponential backoff before retry number ``attempt`` (1-based), capped, with full jitter.

    Full jitter (a uniform draw up to the exponential value) spreads retries of many clients so
    they do not hit a recovering provider at the same instant.
    """
    ceiling = min(policy.backoff_max_seconds, policy.backoff_initial_seconds * 2 ** (attempt - 1))
    return ceiling * rng() if policy.jitter else ceiling


def pace_delay(remaining: int | None, window_seconds: float | None, *, reserve: int = 1) -> float:
    """How long to wait before the next request so a rate-limit window is never exceeded.

    ``remaining`` requests are left in a window that resets in ``window_seconds``. While more than
    ``reserve`` remain we go on at once; at the reserve we wait for the window to reset, so the
    provider never has to answer 429.
    """
    if remaining is None or window_seconds is None:
        return 0.0
    if remaining > reserve:
        return 0.0
    return max(0.0, window_seconds)


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    """An integer header, or None when absent or unreadable."""
    raw = headers.get(name)
    try:
        return int(float(raw)) if raw is not None else None
    except ValueError:
        return None


def _first_text(body: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = body.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


_TEXT_WINDOW = 20_000
_CODE_FIELDS = ("error", "name", "errorCode", "error_code", "category", "code", "type")
_MESSAGE_FIELDS = ("message", "error_description", "detail", "msg", "title")


def provider_error_detail(response: httpx.Response) -> tuple[str | None, str]:
    """The provider's error code (None when it gives none) and a short message, both sanitised
    and bounded, from an error answer: the JSON error fields the providers use (Slack
    ``error``; Mandrill ``name``; Salesforce ``[{errorCode, message}]``; HubSpot ``category``;
    SendGrid and Intercom ``errors[0]``), else the start of the body text."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        body = body[0]
    if isinstance(body, Mapping):
        code = _first_text(body, _CODE_FIELDS)
        message = _first_text(body, _MESSAGE_FIELDS)
        errors = body.get("errors")
        first = errors[0] if isinstance(errors, list) and errors else None
        if isinstance(first, Mapping):
            code = code if code and code != "error.list" else _first_text(first, _CODE_FIELDS)
            message = message or _first_text(first, _MESSAGE_FIELDS)
        if isinstance(body.get("error"), Mapping):  # {"error": {"code": ..., "message": ...}}
            code = code or _first_text(body["error"], _CODE_FIELDS)
            message = message or _first_text(body["error"], _MESSAGE_FIELDS)
        text = message or ""
    else:
        # A page of HTML can be long: what is kept comes from its start, and the rules need no
        # more context than this.
        code, text = None, response.text[:_TEXT_WINDOW]
    # Sanitised whole, then collapsed and cut: a bound never splits a secret the rules would
    # have recognised.
    text = " ".join(sanitise(text).split())
    return (
        sanitise(code, limit=CODE_LIMIT) if code else None,
        sanitise(text, limit=DETAIL_LIMIT),
    )


# --- the I/O shell ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts and retry numbers for one client.

    ``max_sleep_seconds`` caps every wait (backoff, Retry-After, pacing); tests set it near zero so
    the suite stays fast while the decisions stay the production ones.
    """

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_sleep_seconds: float | None = None
    retry_after_max_seconds: float = 120.0

    def cap(self, seconds: float) -> float:
        """``seconds`` limited by the test cap, if any."""
        if self.max_sleep_seconds is None:
            return seconds
        return min(seconds, self.max_sleep_seconds)


class _Retry(Exception):
    """Internal: a retryable answer or transport failure, carrying the wait the provider asked."""

    def __init__(self, reason: str, *, wait: float | None, response: httpx.Response | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.response = response


class ProviderClient:
    """An httpx client for one provider with the house policy applied.

    Subclasses set ``provider`` and call :meth:`request`; it returns the final response with a
    2xx/3xx status or raises :class:`ProviderError` (token-free message).
    """

    provider = "provider"

    def __init__(
        self,
        base_url: str,
        *,
        token: SecretStr | None = None,
        headers: Mapping[str, str] | None = None,
        policy: HttpPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        extra_secrets: Iterable[SecretStr | None] = (),
    ) -> None:
        self.policy = policy or HttpPolicy()
        self._sleep = sleep
        # Known to the sanitiser while this client lives, wherever text about it ends up.
        self._release_secrets = hold([token, *extra_secrets])
        weakref.finalize(self, self._release_secrets)
        base_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token is not None:
            base_headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        base_headers.update(headers or {})
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=base_headers,
            timeout=httpx.Timeout(self.policy.read_timeout, connect=self.policy.connect_timeout),
            transport=transport,
        )
        #: Requests sent over the wire (each retry counts), for summaries and benchmarks.
        self.requests_sent = 0
        #: Pause owed before the next request, set from rate-limit headers by ``after_response``.
        self.pause_before_next = 0.0

    def __repr__(self) -> str:
        # Never the headers: they hold the token.
        return f"{type(self).__name__}(base_url={str(self._client.base_url)!r})"

    def close(self) -> None:
        """Close the connection pool; the sanitiser stops holding this client's secrets (the
        errors it raised were sanitised when they were made)."""
        self._client.close()
        self._release_secrets()

    def __enter__(self) -> ProviderClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def redact(self, text: str) -> str:
        """``text`` sanitised: without this client's (or any configured) secrets."""
        return sanitise(text)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (after the test cap); used for retries and pacing."""
        seconds = self.policy.cap(seconds)
        if seconds > 0:
            self._sleep(seconds)

    def is_retryable(self, response: httpx.Response) -> bool:
        """Whether this answer is worth another attempt (subclasses refine provider quirks)."""
        return is_retryable_status(response.status_code)

    def after_response(self, response: httpx.Response) -> None:
        """Hook for subclasses: read rate-limit headers after every answer (default: nothing)."""

    def error_for(self, response: httpx.Response) -> ProviderError:
        """The error for a non-success answer that is not retried (subclasses refine codes).

        Keeps the status, the provider's error code and a bounded, sanitised message; never the
        body as it came.
        """
        code, detail = provider_error_detail(response)
        status = response.status_code
        cls = ProviderAuthError if status in (401, 403) else ProviderError
        return cls(
            self.provider,
            describe_answer(response, code, detail),
            status=status,
            retryable=is_retryable_status(status),
            code=code,
        )

    def redirect_error(self, response: httpx.Response) -> ProviderError:
        """A 3xx we did not ask for: never followed (our credentials would go along)."""
        try:
            where = httpx.URL(response.headers.get("Location", ""))
        except httpx.InvalidURL:
            where = httpx.URL("")
        # Where it pointed, without user, password or query (credentials travel there).
        port = f":{where.port}" if where.port else ""
        target = f"{where.scheme}://{where.host}{port}{where.path}" if where.host else where.path
        return ProviderError(
            self.provider,
            f"{describe_answer(response, None, '')}, a redirect to {target or '?'}; "
            "redirects are not followed: check the API URL setting",
            status=response.status_code,
            code="redirect",
        )

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.wait if isinstance(exc, _Retry) else None
        if asked is not None:
            # Honour the provider's Retry-After, within a sane bound.
            return self.policy.cap(min(asked, self.policy.retry_after_max_seconds))
        return self.policy.cap(backoff_seconds(state.attempt_number, self.policy.retry))

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        reason = exc.reason if isinstance(exc, _Retry) else repr(exc)
        log.warning(
            "%s: attempt %d failed (%s); retrying in %.2fs",
            self.provider,
            state.attempt_number,
            self.redact(reason),
            state.upcoming_sleep,
        )

    def _send_once(self, method: str, url: str, kwargs: dict[str, Any]) -> httpx.Response:
        if self.pause_before_next > 0:
            # The last answer said the window is nearly used up: wait for it rather than a 429.
            pause, self.pause_before_next = self.pause_before_next, 0.0
            log.info("%s: rate-limit window nearly used; pausing %.2fs", self.provider, pause)
            self.sleep(pause)
        self.requests_sent += 1
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise _Retry(f"timeout ({type(exc).__name__})", wait=None, response=None) from None
        except httpx.TransportError as exc:
            raise _Retry(
                f"connection error ({type(exc).__name__}: {self.redact(str(exc))})",
                wait=None,
                response=None,
            ) from None
        self.after_response(response)
        if self.is_retryable(response):
            raise _Retry(
                f"HTTP {response.status_code}",
                wait=retry_after_seconds(response.status_code, response.headers),
                response=response,
            )
        return response

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send with retries; returns a non-error response or raises :class:`ProviderError`.

        ``expected`` (a set of extra statuses, e.g. ``{409}``) lets a caller handle a 4xx itself.
        """
        expected: set[int] = set(kwargs.pop("expected", ()) or ())
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.policy.retry.attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Retry),
            sleep=self.sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            response = retrying(self._send_once, method, url, kwargs)
        except _Retry as exc:
            attempts = self.policy.retry.attempts
            if exc.response is not None:
                err = self.error_for(exc.response)
                raise type(err)(
                    self.provider,
                    f"gave up after {attempts} attempt(s): "
                    + str(err).removeprefix(f"{self.provider}: "),
                    status=err.status,
                    retryable=True,
                    code=err.code,
                ) from None
            raise ProviderError(
                self.provider,
                f"{method} {httpx.URL(url).path}: gave up after {attempts} attempt(s): "
                f"{self.redact(exc.reason)}",
                retryable=True,
            ) from None
        if response.status_code in expected:
            return response
        if response.status_code >= 400:
            raise self.error_for(response)
        if 300 <= response.status_code < 400:
            raise self.redirect_error(response)
        return response

    def json(self, response: httpx.Response) -> Any:
        """The decoded JSON body, or :class:`ProviderResponseError` naming the request."""
        try:
            return response.json()
        except ValueError:
            raise ProviderResponseError(
                self.provider,
                f"{response.request.method} {response.request.url.path} answered "
                f"HTTP {response.status_code} with a body that is not JSON: "
                f"{provider_error_detail(response)[1][:120]!r}",
                status=response.status_code,
                retryable=True,
            ) from None

    def get_json(self, url: str, **kwargs: Any) -> Any:
        """GET ``url`` and decode the JSON body."""
        return self.json(self.request("GET", url, **kwargs))

    def post_json(self, url: str, body: Any, **kwargs: Any) -> Any:
        """POST ``body`` as JSON and decode the JSON answer."""
        return self.json(self.request("POST", url, json=body, **kwargs))


def describe_answer(response: httpx.Response, code: str | None, detail: str) -> str:
    """``METHOD /path answered HTTP 401 (code): detail`` for an error text."""
    request = response.request
    text = f"{request.method} {request.url.path} answered HTTP {response.status_code}"
    if code:
        text += f" ({code})"
    return f"{text}: {detail}" if detail else text


def expect_dict(client: ProviderClient, value: Any, what: str) -> dict[str, Any]:
    """``value`` when it is a JSON object, else a :class:`ProviderResponseError` about ``what``."""
    if not isinstance(value, dict):
        raise ProviderResponseError(
            client.provider, f"{what}: expected a JSON object, got {type(value).__name__}"
        )
    return value
