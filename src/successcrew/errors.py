"""Exceptions that carry a user-facing message and the exit code the command line maps them to."""

from __future__ import annotations


class SuccessCrewError(Exception):
    """Base class: ``str(err)`` is written for the person who has to act on it."""

    exit_code = 1


class ConfigError(SuccessCrewError):
    """A configuration file is missing, unreadable or invalid (exit 2)."""

    exit_code = 2


class InputError(SuccessCrewError):
    """User input (an import file, a command argument) is invalid (exit 2)."""

    exit_code = 2


class AlreadyDecided(InputError):
    """A decision on something no longer open (decided, expired): nothing changed (exit 2 on
    the command line, 409 on the web)."""


class ImportRejected(InputError):
    """An import file had invalid rows; nothing was written.

    ``errors`` lists ``line N, field F: problem`` (capped); ``total`` counts them all.
    """

    def __init__(self, path: str, errors: list[str], total: int) -> None:
        self.path = path
        self.errors = errors
        self.total = total
        shown = "\n".join(f"  {e}" for e in errors)
        more = f"\n  ... and {total - len(errors)} more" if total > len(errors) else ""
        super().__init__(
            f"{path}: rejected, {total} problem(s) found; nothing was imported.\n"
            f"{shown}{more}\n"
            "Fix the listed lines and import the file again."
        )


class LockHeld(SuccessCrewError):
    """Another run holds the run lock (exit 75, EX_TEMPFAIL)."""

    exit_code = 75


class DatabaseConflict(SuccessCrewError):
    """The database kept rolling a transaction back to break a conflict with another process
    (a deadlock, a serialisation failure); it was retried a bounded number of times (exit 1)."""

    exit_code = 1
