"""What a command needs at hand: settings, every validated definition, and the database engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from successcrew.crew.configuration import Definitions, load_definitions
from successcrew.definitions.thresholds import Thresholds
from successcrew.errors import ConfigError
from successcrew.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine


@dataclass
class Runtime:
    """Settings and definitions loaded once per command; the engine is created on first use."""

    settings: Settings
    thresholds: Thresholds
    definitions: Definitions | None = None
    _engine: Engine | None = field(default=None, repr=False)

    @classmethod
    def load(cls) -> Runtime:
        """Read settings and validate every definition file, before the command writes anything
        (any broken file raises ConfigError naming it: exit 2)."""
        settings = load_settings()
        definitions = load_definitions()
        return cls(settings=settings, thresholds=definitions.thresholds, definitions=definitions)

    @property
    def engine(self) -> Engine:
        """The engine for the configured database (SQLite file by default)."""
        if self._engine is None:
            from successcrew.store.db import make_engine

            self._engine = make_engine(self.settings.resolved_database_url())
        return self._engine

    def ready_engine(self) -> Engine:
        """The engine, after checking the schema is current; otherwise say to run ``init``."""
        from successcrew.store.migrate import current_revision, head_revision

        engine = self.engine
        try:
            current = current_revision(engine)
        except Exception as exc:
            from successcrew.store.db import redacted_url

            raise ConfigError(
                f"cannot open the database {redacted_url(engine)}: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0]}. Check SUCCESSCREW_DATABASE_URL."
            ) from None
        head = head_revision(engine)
        if current != head:
            what = (
                "is empty" if current is None else f"is at schema {current}, this code needs {head}"
            )
            raise ConfigError(f"the database {what}; run `successcrew init` first.")
        return engine

    def close(self) -> None:
        """Release database connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
