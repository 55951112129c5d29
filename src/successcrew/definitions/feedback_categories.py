"""``config/feedback_categories.yaml``: the taxonomy NPS comments are sorted into."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from successcrew.definitions.loading import load_model
from successcrew.paths import definition_path


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


@dataclass(frozen=True)
class CategoryRule:
    """A category and what marks it: whole words (``keywords``) or exact ``phrases``."""

    name: str
    keywords: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()

    def pattern(self) -> re.Pattern[str]:
        """One case-insensitive regex: keywords on word boundaries (plural -s/-es allowed)."""
        parts = [rf"\b{re.escape(k.lower())}(?:s|es)?\b" for k in self.keywords]
        parts += [re.escape(p.lower()) for p in self.phrases]
        return re.compile("|".join(parts) or r"(?!x)x", re.IGNORECASE)


class Categoriser:
    """Applies a taxonomy to comments; compile once, use for many comments."""

    def __init__(self, rules: Sequence[CategoryRule]) -> None:
        self.names = tuple(r.name for r in rules)
        self._compiled = [(r.name, r.pattern()) for r in rules]

    def categorise(self, text: str | None) -> list[str]:
        """Every category whose rules match, in taxonomy order; empty for no comment."""
        if not text or not text.strip():
            return []
        # Straight apostrophes so "don't" written with a curly quote matches too.
        normalised = text.replace("\u2019", "'")
        return [name for name, pattern in self._compiled if pattern.search(normalised)]
