"""The one sanitiser: secrets out of every text that is stored, shown, logged or sent on.

Two strengths, one set of rules:

- :func:`redact_secrets` removes every configured secret (each ``SecretStr`` field of
  :class:`~successcrew.settings.Settings`, read from the environment as it is now, plus those a
  provider client holds while it lives, :func:`hold`, or :func:`register`) and every run of
  :data:`MIN_PIECE` or more of its characters, so a second
  copy, a copy cut off by a proxy or by a length limit, or a URL-encoded copy goes too. It is safe
  on our own content (e-mail bodies, survey links, Slack alerts): nothing but secret material is
  touched. :func:`redact_document` applies it to every string of a JSON-like document.
- :func:`sanitise` is for text that came from outside or describes a failure (provider answers,
  exception messages, log records): it also removes what looks like a credential we do not know,
  the value after ``Bearer``/``Basic``, ``key``/``token``/``api_key``/``authorization``/
  ``password`` (and like-named) fields of JSON and form bodies and query strings, and the user
  and password of a URL; then, and only then, it cuts the text to ``limit``.

Every path that keeps or shows such text goes through here: provider errors
(``integrations.http.ProviderError``), the database columns that hold errors and documents
(``store.types``, ``store.db``), the consoles and ``--json`` (``console``), and log records
(:func:`install_log_redaction`, installed where the command line starts).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args

if TYPE_CHECKING:
    from pydantic import SecretStr

REDACTED = "[REDACTED]"
#: A run of this many characters of a secret is treated as the secret: long enough that ordinary
#: text does not contain one by chance, short enough that a cut copy cannot slip through.
MIN_PIECE = 8
#: Secrets shorter than this are not redacted at all (they would match ordinary text); no
#: provider issues credentials this short.
MIN_SECRET = 4


def _mentions_secret(annotation: Any) -> bool:
    from pydantic import SecretStr

    return annotation is SecretStr or SecretStr in get_args(annotation)


@functools.cache
def secret_settings() -> tuple[str, ...]:
    """Names of every ``SecretStr`` setting; each is read from ``SUCCESSCREW_<NAME>``.

    Looked up on first use, not at import: the consoles import this module, and
    ``successcrew --help`` should not pay for pydantic.
    """
    from successcrew.settings import Settings

    return tuple(
        name for name, f in Settings.model_fields.items() if _mentions_secret(f.annotation)
    )


@functools.cache
def _secret_env() -> tuple[str, ...]:
    return tuple(f"SUCCESSCREW_{name.upper()}" for name in secret_settings())


def settings_secrets(settings: Any) -> list[str]:
    """The value of every ``SecretStr`` field of ``settings`` (a pydantic model) that is set."""
    out = []
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        reveal = getattr(value, "get_secret_value", None)
        secret = reveal() if callable(reveal) else None
        if isinstance(secret, str) and secret:
            out.append(secret)
    return out


# --- the secrets we know -----------------------------------------------------------------------

_lock = threading.Lock()
#: Secrets registered in this process, with how many holders each has.
_holders: Counter[str] = Counter()
_registered: frozenset[str] = frozenset()
#: The secret settings' environment values last seen, and the set known with them.
_known: tuple[tuple[str | None, ...] | None, frozenset[str], frozenset[str]] = (
    None,
    frozenset(),
    frozenset(),
)


def _usable(values: Iterable[SecretStr | str | None]) -> frozenset[str]:
    plain = {v if isinstance(v, str) or v is None else v.get_secret_value() for v in values}
    return frozenset(v for v in plain if v and len(v) >= MIN_SECRET)


def hold(secrets: Iterable[SecretStr | str | None]) -> Callable[[], None]:
    """Redact ``secrets`` until the returned function is called (once; later calls do nothing).

    A provider client holds its credentials for its lifetime, so text about it is sanitised
    even when its settings did not come from the environment.
    """
    global _registered
    values = _usable(secrets)
    with _lock:
        _holders.update(values)
        _registered = frozenset(_holders)
    released = False

    def release() -> None:
        global _registered
        nonlocal released
        with _lock:
            if released:
                return
            released = True
            _holders.subtract(values)
            for value in values:
                if _holders[value] <= 0:
                    del _holders[value]
            _registered = frozenset(_holders)

    return release


def register(secrets: Iterable[SecretStr | str | None]) -> None:
    """Redact ``secrets`` from now on, for the rest of this process.

    Secrets in the environment need no registering: they are read on every use.
    """
    hold(secrets)


def register_settings(settings: Any) -> None:
    """Register every ``SecretStr`` value of ``settings`` (for settings not read from env)."""
    register(settings_secrets(settings))


def known_secrets() -> frozenset[str]:
    """Every secret redacted now: the secret settings as the environment has them now, and
    the registered ones. The same object is returned while neither changes."""
    global _known
    seen = tuple(os.environ.get(name) for name in _secret_env())
    env_seen, registered, known = _known
    if seen != env_seen or registered is not _registered:
        registered = _registered
        known = registered | _usable(seen)
        _known = (seen, registered, known)
    return known


# --- matching secret material ------------------------------------------------------------------


@dataclass(frozen=True)
class _Matcher:
    """What :func:`redact_secrets` looks for, compiled once per set of secrets."""

    pieces: frozenset[str]  # every MIN_PIECE-character window of every long-enough secret
    runs: re.Pattern[str]  # runs of MIN_PIECE+ characters drawn from the secrets' alphabet
    short: tuple[str, ...]  # secrets shorter than MIN_PIECE: replaced whole, longest first

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Merged (start, end) spans of ``text`` that are secret material.

        Only runs of the secrets' own characters can hold a piece; a regular expression finds
        them at C speed, and only their windows are looked up.
        """
        found: list[tuple[int, int]] = []
        pieces, n = self.pieces, MIN_PIECE
        if pieces:
            for m in self.runs.finditer(text):
                run, base = m.group(), m.start()
                for i in range(len(run) - n + 1):
                    if run[i : i + n] in pieces:
                        found.append((base + i, base + i + n))
        for secret in self.short:
            start = text.find(secret)
            while start != -1:
                found.append((start, start + len(secret)))
                start = text.find(secret, start + 1)
        if not found:
            return []
        found.sort()
        merged = [found[0]]
        for start, end in found[1:]:
            last_start, last_end = merged[-1]
            if start <= last_end:
                merged[-1] = (last_start, max(last_end, end))
            else:
                merged.append((start, end))
        return merged


def _forms(secret: str) -> set[str]:
    """The secret as it may appear in text: as is, URL-encoded, JSON-escaped."""
    return {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        json.dumps(secret)[1:-1],
    }


#: The matcher and the set of secrets it was built for.
_built: tuple[frozenset[str], _Matcher | None] = (frozenset(), None)


def _matcher() -> _Matcher | None:
    global _built
    secrets = known_secrets()
    if secrets is _built[0]:
        return _built[1]
    forms = {form for s in secrets for form in _forms(s)}
    long_forms = [f for f in forms if len(f) >= MIN_PIECE]
    pieces = frozenset(f[i : i + MIN_PIECE] for f in long_forms for i in range(len(f) - 7))
    alphabet = "".join(re.escape(c) for c in sorted({c for f in long_forms for c in f}))
    matcher = (
        _Matcher(
            pieces=pieces,
            runs=re.compile(f"[{alphabet}]{{{MIN_PIECE},}}" if alphabet else "(?!)"),
            short=tuple(sorted((f for f in forms if len(f) < MIN_PIECE), key=len, reverse=True)),
        )
        if forms
        else None
    )
    _built = (secrets, matcher)
    return matcher


def redact_secrets(text: str) -> str:
    """``text`` without any configured secret or any run of 8+ characters of one."""
    matcher = _matcher()
    if matcher is None or not text:
        return text
    return _redact(text, matcher)


def _redact(text: str, matcher: _Matcher) -> str:
    spans = matcher.spans(text)
    if not spans:
        return text
    parts, last = [], 0
    for start, end in spans:
        parts.append(text[last:start])
        parts.append(REDACTED)
        last = end
    parts.append(text[last:])
    return "".join(parts)


def redact_document(value: Any) -> Any:
    """A copy of a JSON-like document with :func:`redact_secrets` applied to every string
    (keys included); anything that is not a str, dict, list or tuple is returned as it is."""
    matcher = _matcher()
    if matcher is None:
        return value
    return _walk(value, matcher)


def _walk(value: Any, matcher: _Matcher) -> Any:
    if isinstance(value, str):
        return _redact(value, matcher) if len(value) >= MIN_SECRET else value
    if isinstance(value, Mapping):
        return {
            _redact(k, matcher) if isinstance(k, str) else k: _walk(v, matcher)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_walk(v, matcher) for v in value]
    return value


# --- credentials we do not know ----------------------------------------------------------------

#: Field and parameter names whose value is a credential (matched case-insensitively, with any
#: ``prefix_`` or ``prefix-``: ``api_key``, ``x-api-key``, ``access_token``, ``client_secret``).
_NAME = (
    r"(?:[a-z0-9]+[_-])*"
    r"(?:api[_-]?key|key|token|secret|password|passwd|pwd|authorization|auth|sig|signature"
    r"|credentials?|access[_-]?token|refresh[_-]?token|auth[_-]?token|client[_-]?secret"
    r"|write[_-]?key|session[_-]?id)"
)
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # URL credentials: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#@\"'<>]+@"), rf"\1{REDACTED}@"),
    # "key": "value" in JSON (also 'key': 'value' in a repr, \"key\": \"value\" nested in JSON)
    (
        re.compile(rf"(?i)(\\?[\"'])({_NAME})\1(\s*:\s*)(\\?[\"'])(?:(?!\4)[^\r\n])*"),
        rf"\1\2\1\3\4{REDACTED}",
    ),
    # key=value in a form body or a query string
    (re.compile(rf"(?i)(?<![a-z0-9_.\-])({_NAME})=[^&\s\"'<>#;,]+"), rf"\1={REDACTED}"),
    # Authorization: <credential> in an echoed header block
    (
        re.compile(
            r"(?i)\b((?:proxy-)?authorization|x-api-key|api-key|x-auth-token|cookie)(\s*:\s*)"
            r"(?!bearer\b|basic\b)[^\s\"',;]+"
        ),
        rf"\1\2{REDACTED}",
    ),
    # the credential after an HTTP auth scheme; a plain word after it ("basic plan") is no
    # credential, every token a provider issues has a digit or a sign in it
    (
        re.compile(
            r"(?i)\b(bearer|basic)(\s+)(?!(?-i:[A-Z]?[a-z]{1,15})(?![\w~+/=\-]|\.\w))[^\s\"',;<>\\]+"
        ),
        rf"\1\2{REDACTED}",
    ),
)


def sanitise(text: str, *, limit: int | None = None) -> str:
    """``text`` from outside, made safe to store and show, then cut to ``limit`` characters.

    Removes the configured secrets and runs of 8+ of their characters, credentials after
    ``Bearer``/``Basic`` and in ``Authorization``-like headers, credential fields of JSON and
    form bodies, credential query parameters and URL passwords. Cutting comes last, so a limit
    never leaves the start of a secret behind.
    """
    if not text:
        return text
    text = redact_secrets(text)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return text


# --- log records -------------------------------------------------------------------------------

_factory_installed = False


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # bad format arguments: keep the format string, drop the arguments
        message = str(record.msg)
    record.msg, record.args = sanitise(message), ()
    if record.exc_info:
        formatted = logging.Formatter().formatException(record.exc_info)
        # Formatters print exc_text when set; without exc_info nothing re-renders the raw one.
        record.exc_text, record.exc_info = sanitise(formatted), None
    elif record.exc_text:
        record.exc_text = sanitise(record.exc_text)
    if record.stack_info:
        record.stack_info = sanitise(record.stack_info)


def install_log_redaction() -> None:
    """Sanitise every log record of this process as it is made, whatever handler shows it.

    A record factory rather than a handler filter: a filter guards only the handler it is added
    to, while every record of every logger is made by the factory. Idempotent.
    """
    global _factory_installed
    with _lock:
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True


__all__ = [
    "MIN_PIECE",
    "REDACTED",
    "hold",
    "install_log_redaction",
    "known_secrets",
    "redact_document",
    "redact_secrets",
    "register",
    "register_settings",
    "sanitise",
    "secret_settings",
    "settings_secrets",
]
