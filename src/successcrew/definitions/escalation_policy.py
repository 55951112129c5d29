"""The chairman escalation policy (``config/escalation.yaml``): who is high-value, which trigger
codes reach the chairman, the strategic offers and how long an escalation waits."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DecisionKind = Literal["special_offer", "pricing_adjustment"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HighValue(_Strict):
    """Either condition makes an account high-value."""

    arr_at_least: Annotated[float, Field(ge=0)] | None = 100_000
    top_percent_by_arr: Annotated[float, Field(gt=0, le=100)] | None = 5


class StrategicDecision(_Strict):
    """The terms of a strategic offer the chairman approves or declines."""

    discount_pct: Annotated[float, Field(gt=0, le=100)]
    months: Annotated[int, Field(ge=1, le=60)]


class EscalationPolicy(_Strict):
    """What reaches the chairman and how long an escalation waits."""

    high_value: HighValue = HighValue()
    always_escalate: tuple[str, ...] = ("RETENTION-003", "EMERGENCY-REVIEW")
    high_value_escalate: tuple[str, ...] = ("RETENTION-001",)
    escalate_critical_high_value: bool = True
    strategic_decisions: dict[DecisionKind, StrategicDecision] = Field(
        default_factory=lambda: {
            "special_offer": StrategicDecision(discount_pct=15, months=3),
            "pricing_adjustment": StrategicDecision(discount_pct=10, months=12),
        }
    )
    propose_for_critical: DecisionKind | None = "special_offer"
    #: An account escalated for being Critical is not escalated again for this long.
    cooldown_days: Annotated[int, Field(ge=0, le=365)] = 30
    #: Slack user ids (``U0123ABCD``) who may approve or decline with the buttons in Slack;
    #: anyone else who clicks is told so and nothing changes. Empty: decide with the CLI only.
    deciders: tuple[Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,20}$")], ...] = ()
    remind_after_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 24
    expire_after_hours: Annotated[float, Field(gt=0, le=24 * 90)] = 48

    @model_validator(mode="after")
    def _proposal_defined(self) -> EscalationPolicy:
        if self.propose_for_critical and self.propose_for_critical not in self.strategic_decisions:
            raise ValueError(
                f"propose_for_critical is {self.propose_for_critical!r} but "
                "strategic_decisions does not define its terms"
            )
        return self

    def reminder_due(self, created_at: datetime) -> datetime:
        """When an unanswered escalation is re-sent."""
        return created_at + timedelta(hours=self.remind_after_hours)

    def expires_at(self, created_at: datetime) -> datetime:
        """When an unanswered escalation expires (the reminder time plus the expiry time)."""
        return self.reminder_due(created_at) + timedelta(hours=self.expire_after_hours)


def policy_path() -> Path:
    """The escalation policy file in force."""
    from successcrew.paths import definition_path

    return definition_path("config", "escalation.yaml")


def load_policy(path: Path | None = None) -> EscalationPolicy:
    """Load and validate the policy; a broken file raises ConfigError naming file and key."""
    from successcrew.definitions.loading import load_model

    return load_model(path or policy_path(), EscalationPolicy)
