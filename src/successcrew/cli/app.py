"""The ``successcrew`` command line (Typer).

Heavy modules (SQLAlchemy, httpx, the store) are imported inside the commands so that
``successcrew --help`` stays fast. Each group of commands lives in ``successcrew.cli.*_commands``
and registers itself on ``app``.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import traceback

import typer
from typer.exceptions import TyperException

from successcrew.errors import SuccessCrewError

app = typer.Typer(
    name="successcrew",
    help="Self-hosted customer-success and retention crew: health scores, retention triggers, "
    "playbooks, NPS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Modules ``successcrew.cli.<name>_commands``, each with ``register(app)``.
COMMAND_MODULES = (
    "setup",
    "import",
    "status",
    "demo",
    "integration",
    "health",
    "trigger",
    "pause",
    "program",
    "run",
    "escalation",
    "serve",
    "llm",
    "outbox",
    "audit",
    "user",
)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"successcrew {version('successcrew')}")
        raise typer.Exit(0)


@app.callback()
def _validate_configuration(
    ctx: typer.Context,
    _version: bool = typer.Option(
        False,
        "--version",
        callback=_show_version,
        is_eager=True,
        help="Print the installed version and exit.",
    ),
) -> None:
    """Every command starts by validating the configuration, so a broken file stops it (exit 2)."""
    if ctx.resilient_parsing or "--help" in sys.argv:
        return
    from successcrew.console import setup_logging
    from successcrew.crew.runtime import Runtime

    ctx.obj = Runtime.load()
    ctx.call_on_close(ctx.obj.close)
    setup_logging(ctx.obj.settings.log_level)
    if ctx.obj.settings.llm_model:
        # The optional model (docs/llm.md); imported only when configured.
        from successcrew.llm.setup import install

        close_model = install(ctx.obj)
        ctx.call_on_close(lambda: close_model(ctx.invoked_subcommand or "command"))


for _name in COMMAND_MODULES:
    importlib.import_module(f"successcrew.cli.{_name}_commands").register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, 1, 2 or 75, see ARCHITECTURE.md)."""
    from successcrew.console import err_console, json_document_mode, plain
    from successcrew.redaction import install_log_redaction, sanitise

    install_log_redaction()
    args = sys.argv[1:] if argv is None else argv
    # --json: one document on stdout whatever a library prints (crewAI's warnings among them).
    document_only = json_document_mode() if "--json" in args else contextlib.nullcontext()
    try:
        with document_only:
            result = app(args=args, prog_name="successcrew", standalone_mode=False)
    except SuccessCrewError as exc:
        err_console.print(f"[bold red]error:[/] {plain(sanitise(str(exc)))}", soft_wrap=True)
        return exc.exit_code
    except typer.Exit as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except typer.Abort:
        err_console.print("aborted")
        return 1
    except TyperException as exc:
        # Typer's (vendored click) usage errors: bad option, missing argument. They print
        # themselves and carry exit code 2.
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            err_console.print(f"error: {plain(sanitise(str(exc)))}", soft_wrap=True)
        return int(getattr(exc, "exit_code", 2) or 2)
    except Exception as exc:
        # A bug, not a user error: one line for the person at the terminal (or cron's mail),
        # the traceback in a log file they can attach to a report, both sanitised (an
        # exception's message can quote a provider's answer).
        err_console.print(plain(_unexpected_error_line(exc, argv)), soft_wrap=True)
        return 1
    return result if isinstance(result, int) else 0


#: The file under the data directory that keeps the tracebacks of unexpected errors.
ERROR_LOG = "errors.log"


def _unexpected_error_line(exc: Exception, argv: list[str] | None) -> str:
    """Log the traceback of ``exc`` (appended to ``errors.log`` in the data directory) and
    return the one line to show: what went wrong and where the detail is."""
    from datetime import UTC, datetime

    from successcrew.redaction import sanitise
    from successcrew.settings import data_dir

    message = " ".join(sanitise(str(exc), limit=300).split()) or "no message"
    what = f"error: unexpected {type(exc).__name__}: {message}"
    log = data_dir() / ERROR_LOG
    command = " ".join(["successcrew", *(sys.argv[1:] if argv is None else argv)])
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as out:
            out.write(
                f"--- {datetime.now(UTC).isoformat(timespec='seconds')} {sanitise(command)}\n"
                + sanitise(traceback.format_exc())
                + "\n"
            )
    except OSError as problem:
        return f"{what} (the details could not be written to {log}: {problem.strerror})"
    return f"{what}; this is a bug: the details are in {log}"


def entrypoint() -> None:
    """Console-script entry point."""
    sys.exit(main())
