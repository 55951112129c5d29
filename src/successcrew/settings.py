"""Runtime settings from ``SUCCESSCREW_*`` environment variables (pydantic-settings).

Tokens are ``SecretStr`` so they never show up in a repr, a log line or a traceback.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import PrivateAttr, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from successcrew.errors import ConfigError

#: The variable that sets the survey-link secret; without it the secret file is used.
SURVEY_SECRET_VARIABLE = "SUCCESSCREW_SURVEY_SECRET"


def data_dir() -> Path:
    """The platform user-data directory: the embedded database and the survey secret file."""
    return Path(user_data_dir("successcrew", appauthor=False))


def default_database_url() -> str:
    """The embedded SQLite file in the platform user-data directory."""
    return f"sqlite:///{data_dir() / 'successcrew.db'}"


def survey_secret_file() -> Path:
    """Where ``successcrew init`` keeps the survey-link secret when none is configured."""
    return data_dir() / "survey_secret"


def session_secret_file() -> Path:
    """Where ``successcrew init`` keeps the dashboard's session-signing secret."""
    return data_dir() / "session_secret"


def read_secret_file(
    path: Path, what: str = "survey secret", variable: str = SURVEY_SECRET_VARIABLE
) -> SecretStr | None:
    """The secret in ``path`` (None when there is no such file). A file other users may read,
    an empty one or an unreadable one is a configuration error naming the file and the fix."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path}: the {what} can be read by other users (mode "
            f"{stat.S_IMODE(mode):04o}); run `chmod 600 {path}`"
        )
    if not text:
        raise ConfigError(
            f"{path}: the {what} file is empty; delete it and run `successcrew init` "
            f"to create a new one, or set {variable}"
        )
    return SecretStr(text)


def create_secret_file(path: Path) -> bool:
    """Write a new random secret to ``path``, readable by this user only (mode 0600); False
    when the file already exists (it is never overwritten: links signed with it stay valid).

    The secret is written to a private temporary file first and linked into place, so a
    concurrent ``init`` or a crash never leaves a half-written secret behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists():
        return False
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        os.chmod(temp, 0o600)  # the umask may only narrow 0600; make it exact
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
    finally:
        temp.unlink(missing_ok=True)
    return True


class Settings(BaseSettings):
    """Everything the crew reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="SUCCESSCREW_", extra="ignore")

    database_url: str = ""
    project_dir: Path | None = None

    slack_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api"
    slack_channel: str = "#customer-success"
    slack_chairman_channel: str = "#chairman"
    slack_signing_secret: SecretStr | None = None
    #: App-level token (``xapp-...``) for ``serve --slack-socket-mode``.
    slack_app_token: SecretStr | None = None
    #: Take Slack interactions over Socket Mode (no public URL); ``serve --slack-socket-mode``.
    slack_socket_mode: bool = False

    hubspot_token: SecretStr | None = None
    hubspot_api_url: str = "https://api.hubapi.com"

    salesforce_token: SecretStr | None = None
    salesforce_api_url: str = ""
    salesforce_api_version: str = "v61.0"

    intercom_token: SecretStr | None = None
    intercom_api_url: str = "https://api.intercom.io"

    sendgrid_api_key: SecretStr | None = None
    sendgrid_api_url: str = "https://api.sendgrid.com"

    mailchimp_api_key: SecretStr | None = None
    mailchimp_api_url: str = "https://mandrillapp.com/api/1.0"

    email_from: str = "success@example.com"
    public_base_url: str = "http://localhost:8000"
    survey_secret: SecretStr | None = None
    _survey_secret_file: Path | None = PrivateAttr(default=None)

    #: DEBUG, INFO, WARNING or ERROR: log records from that level up go to stderr (sanitised).
    log_level: str | None = None

    # `successcrew serve`: the secrets of the inbound endpoints (an endpoint whose secret is
    # missing refuses every request), and the limits every request meets.
    #: SendGrid Event Webhook verification key: the base64 DER P-256 public key SendGrid shows.
    sendgrid_webhook_public_key: SecretStr | None = None
    #: A signed SendGrid request whose timestamp is further from now than this is refused
    #: (a recorded request replayed later), like Slack's five-minute window.
    sendgrid_webhook_max_age_seconds: int = 600
    #: Mailchimp Transactional (Mandrill) webhook key, shown beside the webhook in its settings.
    mailchimp_webhook_key: SecretStr | None = None
    #: The webhook URL exactly as registered with Mandrill (it is part of the signed text);
    #: default ``{public_base_url}/webhooks/mailchimp``.
    mailchimp_webhook_url: str = ""
    segment_write_key: SecretStr | None = None
    #: Comma-separated IPs (or ``*``) whose X-Forwarded-For / -Proto headers are believed.
    trusted_proxies: str = "127.0.0.1"
    #: Comma-separated origins (``https://app.example.com``) allowed to call the in-app survey API.
    survey_allowed_origins: str = ""
    #: Signs the product's user ids for the in-app survey widget (``user_hash``: hex
    #: HMAC-SHA256 of the user id), so a page can only fetch its own user's survey.
    in_app_secret: SecretStr | None = None
    #: In-app survey answers accepted per client (IP) per minute.
    in_app_rate_per_minute: int = 30
    #: Largest request body accepted (413 beyond); webhooks batch events and get more room.
    max_body_bytes: int = 64 * 1024
    webhook_max_body_bytes: int = 8 * 1024 * 1024
    #: ``Strict-Transport-Security`` max-age on answers to requests that came over HTTPS
    #: (directly, or per a trusted proxy's X-Forwarded-Proto); 0 sends none.
    hsts_seconds: int = 31_536_000
    #: ``/healthz`` answers 503 when the last successful run is older than this.
    health_max_run_age_minutes: int = 180

    # The dashboard (docs/dashboard.md): sign-in and sessions.
    #: Signs session cookies; without it the file ``init`` creates in the data directory.
    session_secret: SecretStr | None = None
    #: Hours a sign-in lasts.
    session_hours: int = 12
    #: ``auto``: Secure cookies when the request came over HTTPS (directly or per a trusted
    #: proxy's X-Forwarded-Proto); ``always`` / ``never`` force it.
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    #: Local password sign-in (``successcrew users add``); on unless set to false.
    password_login: bool = True
    #: Failed password sign-ins allowed per e-mail and per client address per minute.
    login_rate_per_minute: int = 5
    #: Argon2 cost of new password hashes: ``standard`` (pwdlib's recommendation) or ``low``
    #: (fast hashes for test suites only; never on a real deployment).
    password_hash_cost: Literal["standard", "low"] = "standard"
    #: Reverse-proxy sign-in: the header carrying the signed-in e-mail (oauth2-proxy:
    #: ``X-Forwarded-Email``), believed only from ``auth_proxies``. Empty: off.
    auth_proxy_header: str = ""
    #: Comma-separated addresses of the proxy allowed to set ``auth_proxy_header``.
    auth_proxies: str = ""
    #: OpenID Connect sign-in: the issuer (``https://login.example.com``), the client id and
    #: secret registered there; redirect URI ``{public_base_url}/login/oidc/callback``.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr | None = None
    #: The button label on the sign-in page.
    oidc_name: str = "single sign-on"

    def link_secret(self) -> str | None:
        """The secret that signs survey and unsubscribe links (the survey secret)."""
        return self.survey_secret.get_secret_value() if self.survey_secret else None

    def mandrill_url(self) -> str:
        """The Mailchimp webhook URL as registered (part of what Mandrill signs)."""
        return self.mailchimp_webhook_url or (
            f"{self.public_base_url.rstrip('/')}/webhooks/mailchimp"
        )

    # The optional model (the `llm` extra, docs/llm.md): any OpenAI-compatible endpoint. Empty
    # model = no model; everything is deterministic. Budgets are per run (or per command).
    llm_model: str = ""
    llm_base_url: str = ""
    llm_api_key: SecretStr | None = None
    llm_max_calls: int = 200
    llm_max_tokens: int = 400_000
    llm_timeout_seconds: float = 60.0
    llm_structured_method: Literal["json_schema", "function_calling", "json_mode"] = "json_schema"
    crew_mode: Literal["deterministic", "crewai"] = "deterministic"

    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded SQLite default."""
        return self.database_url or default_database_url()

    @property
    def survey_secret_origin(self) -> str | None:
        """Where the survey secret comes from (its variable or its file); None when unset."""
        if self._survey_secret_file is not None:
            return str(self._survey_secret_file)
        return SURVEY_SECRET_VARIABLE if self.survey_secret is not None else None


def load_settings() -> Settings:
    """Read the settings from the environment now (not cached: tests change the environment).

    Without ``SUCCESSCREW_SURVEY_SECRET`` the survey secret comes from the file ``init``
    creates in the data directory, so the crew and ``serve`` sign and check links alike.
    """
    settings = Settings()
    if settings.survey_secret is None:
        path = survey_secret_file()
        stored = read_secret_file(path)
        if stored is not None:
            settings = settings.model_copy(update={"survey_secret": stored})
            settings._survey_secret_file = path
    if settings.session_secret is None:
        stored = read_secret_file(
            session_secret_file(), "session secret", "SUCCESSCREW_SESSION_SECRET"
        )
        if stored is not None:
            settings = settings.model_copy(update={"session_secret": stored})
    return settings
