"""``successcrew serve``: the web app under uvicorn (survey pages, unsubscribe, provider
webhooks, Slack interactivity, product events, /healthz, /metrics). FastAPI and uvicorn are
imported here only, so ``successcrew --help`` stays lean."""

from __future__ import annotations

import os
import shutil
import tempfile

import typer

from successcrew.errors import InputError

#: Loggers `serve` writes: uvicorn's own and ours (access lines carry no secrets).
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        },
    },
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        "successcrew": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}


def register(app: typer.Typer) -> None:
    """Add ``serve``."""

    @app.command()
    def serve(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(8000, "--port", help="Port to listen on."),
        workers: int = typer.Option(1, "--workers", min=1, max=64, help="Worker processes."),
        slack_socket_mode: bool = typer.Option(
            False,
            "--slack-socket-mode",
            help="Also take Slack interactions over Socket Mode (SUCCESSCREW_SLACK_APP_TOKEN).",
        ),
        access_log: bool = typer.Option(True, "--access-log/--no-access-log"),
    ) -> None:
        """Run the web app: surveys, unsubscribe, webhooks, Slack buttons, product events."""
        import uvicorn

        from successcrew.web.application import ready_engine

        settings = ctx.obj.settings
        if slack_socket_mode and workers > 1:
            raise InputError(
                "--slack-socket-mode needs --workers 1: each worker would open its own Slack "
                "connection and Slack spreads the clicks over them"
            )
        if slack_socket_mode and settings.slack_app_token is None:
            raise InputError(
                "--slack-socket-mode needs SUCCESSCREW_SLACK_APP_TOKEN (an app-level xapp- token "
                "with connections:write)"
            )
        # Refuse to start on a database that is not there or not migrated (exit 2, says why).
        ready_engine(settings).dispose()
        if slack_socket_mode:
            os.environ["SUCCESSCREW_SLACK_SOCKET_MODE"] = "1"
        if workers > 1:
            # Counters of every worker are summed through files here (prometheus_client).
            folder = os.environ.setdefault(
                "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="successcrew-metrics-")
            )
            shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(folder)
        config = dict(LOG_CONFIG)
        if not access_log:
            config = {
                **LOG_CONFIG,
                "loggers": {
                    **LOG_CONFIG["loggers"],
                    "successcrew.web.access": {"level": "WARNING"},
                },
            }
        uvicorn.run(
            "successcrew.web.application:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            # The app believes X-Forwarded-* itself (web/middleware.py ProxiedPeer), keeping
            # the peer address for the sign-in proxy check.
            proxy_headers=False,
            access_log=False,
            log_config=config,
            timeout_graceful_shutdown=10,
            server_header=False,
        )
