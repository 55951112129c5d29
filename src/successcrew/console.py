"""Rich consoles: results on stdout, progress and errors on stderr (so ``--json`` stays clean).

Everything written through them, and every ``--json`` document, passes the sanitiser's secret
filter (``successcrew.redaction.redact_secrets``) on its way out: whatever a command prints, no
configured secret and no run of 8 or more of its characters reaches the terminal or cron's mail.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from typing import IO, Any, TextIO, cast

from rich.console import Console, ConsoleDimensions
from rich.markup import escape

from successcrew.errors import ConfigError
from successcrew.redaction import install_log_redaction, redact_document, redact_secrets


class _SecretFreeStream:
    """A text stream that redacts secrets and writes to the *current* ``sys.stdout`` or
    ``sys.stderr`` (looked up on every write, so captured and replaced streams are honoured)."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def _target(self) -> TextIO:
        return getattr(sys, self._name)

    def write(self, text: str) -> int:
        return self._target.write(redact_secrets(text))

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        isatty = getattr(self._target, "isatty", None)
        return bool(isatty and isatty())

    def fileno(self) -> int:
        return self._target.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._target, "encoding", None) or "utf-8"


#: The line width when the output is a file or a pipe: wide enough that no record ever wraps.
PIPED_WIDTH = 100_000


class _PlainWhenPiped(Console):
    """A console that wraps to the terminal on a terminal and never wraps anywhere else.

    Rich measures the terminal of *any* standard stream (so ``successcrew status > file`` would
    wrap at the width of the terminal it was typed in, and at 80 columns under cron); output that
    is not a terminal is read by ``grep`` and scripts, one record per line.
    """

    @property
    def size(self) -> ConsoleDimensions:
        if self.file.isatty():
            return super().size
        return ConsoleDimensions(PIPED_WIDTH, 25)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    @property
    def soft_wrap(self) -> bool:
        """Never break a long line that goes to a file or a pipe."""
        return not self.file.isatty() or self._soft_wrap_on_terminal

    @soft_wrap.setter
    def soft_wrap(self, value: bool) -> None:  # Console.__init__ assigns it
        self._soft_wrap_on_terminal = value


# Rich asks a stream for write, flush, isatty, fileno and encoding only, all of which the
# redacting stream has; the cast says so to the type checker.
console: Console = _PlainWhenPiped(
    file=cast("IO[str]", _SecretFreeStream("stdout")), highlight=False
)
err_console: Console = _PlainWhenPiped(
    file=cast("IO[str]", _SecretFreeStream("stderr")), highlight=False
)


def heading(title: str) -> None:
    """A section heading on stdout: a rule across a terminal, one short line in a file."""
    if console.file.isatty():
        console.rule(plain(title))
    else:
        console.print(f"-- {plain(title)} --")


#: Where ``print_json`` writes while a ``--json`` command runs (the real stdout), or None.
_document_stream: TextIO | None = None


@contextlib.contextmanager
def json_document_mode() -> Iterator[None]:
    """While a ``--json`` command runs, whatever anything else prints to stdout (a library's
    warning, a progress line) goes to stderr: stdout carries the one JSON document alone."""
    global _document_stream
    real = sys.stdout
    _document_stream = real
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _document_stream = None


def print_json(document: Any) -> None:
    """One JSON document on stdout, nothing else (for ``--json``), without secrets."""
    stream = _document_stream or sys.stdout
    print(
        json.dumps(redact_document(document), indent=2, default=str, sort_keys=False), file=stream
    )
    stream.flush()


def plain(text: str) -> str:
    """Escape text from data (account names, errors) so Rich does not read it as markup."""
    return escape(text)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


class _StderrHandler(logging.StreamHandler):
    """Log lines on the current ``sys.stderr`` (looked up per record, like Python's own
    last-resort handler)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # StreamHandler.__init__ assigns it
        pass


def setup_logging(level: str | None) -> None:
    """Sanitise every log record of this process; with ``level`` (``SUCCESSCREW_LOG_LEVEL``)
    also show records from that level up on stderr. Without it Python's default stands:
    warnings and errors on stderr."""
    install_log_redaction()
    if not level:
        return
    name = level.strip().upper()
    if name not in LOG_LEVELS:
        raise ConfigError(
            f"SUCCESSCREW_LOG_LEVEL: {level!r} is not a log level; use one of "
            + ", ".join(LOG_LEVELS)
        )
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
        root.addHandler(handler)
    handler.setLevel(name)
    root.setLevel(min(root.level or logging.WARNING, logging.getLevelName(name)))
