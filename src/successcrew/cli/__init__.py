"""The ``successcrew`` command line: this package's face is ``main`` and ``entrypoint`` (the
console script); the Typer app is in ``cli.app`` and each command group in ``*_commands``."""

from successcrew.cli.app import app, entrypoint, main

__all__ = ["app", "entrypoint", "main"]
