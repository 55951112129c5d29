"""Runtime settings from ``SUCCESSCREW_*`` environment variables (pydantic-settings).

Tokens are ``SecretStr`` so they never show up in a repr, a log line or a traceback.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

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


def read_secret_file(path: Path) -> SecretStr | None:
    """The secret in ``path`` (None when there is no such file). A file other users may read,
    an empty one or an unreadable one is a configuration error naming the file and the fix."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the survey secret ({exc.strerror})") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path}: the survey secret can be read by other users (mode "
            f"{stat.S_IMODE(mode):04o}); run `chmod 600 {path}`"
        )
    if not text:
        raise ConfigError(
            f"{path}: the survey secret file is empty; delete it and run `successcrew init` "
            f"to create a new one, or set {SURVEY_SECRET_VARIABLE}"
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
    return settings
