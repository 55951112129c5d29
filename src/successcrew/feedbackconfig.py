"""``config/feedback_categories.yaml``: the taxonomy NPS comments are sorted into."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from successcrew.domain.feedback import Categoriser, CategoryRule
from successcrew.paths import definition_path
from successcrew.yamlconfig import load_model


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    keywords: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    phrases: tuple[Annotated[str, Field(min_length=1)], ...] = ()

    @model_validator(mode="after")
    def _something(self) -> _Rule:
        if not self.keywords and not self.phrases:
            raise ValueError("give at least one keyword or phrase")
        return self


class Taxonomy(BaseModel):
    """Category name -> rules, in the order the file lists them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    categories: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,49}$")], _Rule]

    def categoriser(self) -> Categoriser:
        """The compiled rules."""
        return Categoriser(
            [
                CategoryRule(name, tuple(rule.keywords), tuple(rule.phrases))
                for name, rule in self.categories.items()
            ]
        )


def taxonomy_path() -> Path:
    """The taxonomy file in force."""
    return definition_path("config", "feedback_categories.yaml")


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Load and validate the taxonomy; a broken file raises ConfigError naming file and key."""
    return load_model(path or taxonomy_path(), Taxonomy)
