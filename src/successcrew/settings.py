"""Runtime settings from ``SUCCESSCREW_*`` environment variables (pydantic-settings).

Tokens are ``SecretStr`` so they never show up in a repr, a log line or a traceback.
"""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_database_url() -> str:
    """The embedded SQLite file in the platform user-data directory."""
    data_dir = Path(user_data_dir("successcrew", appauthor=False))
    return f"sqlite:///{data_dir / 'successcrew.db'}"


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

    #: DEBUG, INFO, WARNING or ERROR: log records from that level up go to stderr (sanitised).
    log_level: str | None = None

    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded SQLite default."""
        return self.database_url or default_database_url()


def load_settings() -> Settings:
    """Read the settings from the environment now (not cached: tests change the environment)."""
    return Settings()
