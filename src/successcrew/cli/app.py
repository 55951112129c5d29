"""The ``successcrew`` command line (Typer).

Heavy modules (SQLAlchemy, httpx, the store) are imported inside the commands so that
``successcrew --help`` stays fast. Each group of commands lives in ``successcrew.cli.*_commands``
and registers itself on ``app``.
"""

from __future__ import annotations

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
    "user",
)


@app.callback()
def _validate_configuration(ctx: typer.Context) -> None:
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
    from successcrew.console import err_console, plain
    from successcrew.redaction import install_log_redaction, sanitise

    install_log_redaction()
    try:
        result = app(args=argv, prog_name="successcrew", standalone_mode=False)
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
    except Exception:
        # A bug, not a user error: show the traceback as Python would, but sanitised (an
        # exception's message can quote a provider's answer).
        err_console.print(plain(sanitise(traceback.format_exc().rstrip())), soft_wrap=True)
        return 1
    return result if isinstance(result, int) else 0


def entrypoint() -> None:
    """Console-script entry point."""
    sys.exit(main())
