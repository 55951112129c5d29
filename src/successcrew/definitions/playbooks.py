"""Retention programs as code: ``config/playbooks/*.yaml`` and ``config/programs.yaml``.

A playbook names its entry rules, exit rules, steps (with Jinja2 templates), optional variants,
a holdout share and the outcome its A/B test measures. Everything is validated when loaded: a
wrong key, a template that does not parse, or a template naming a variable the crew does not
provide is a ConfigError naming the file and the key (exit 2), before anything is sent.

Templates render in Jinja2's sandbox with ``StrictUndefined``: a playbook is code a lead writes,
and it must not reach into Python objects or print an empty string where a name was misspelt.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from successcrew.definitions.loading import describe_validation_error, load_model
from successcrew.errors import ConfigError
from successcrew.paths import definition_path

ProgramId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- entry, exit and outcome rules ------------------------------------------------------------


class BandEntered(_Strict):
    """The account's latest health snapshot is in ``band`` and the one before it was not."""

    rule: Literal["band_entered"]
    band: Literal["healthy", "at_risk", "critical"]


class TriggerFired(_Strict):
    """A trigger event with ``code`` fired for the account within the last ``within_days``."""

    rule: Literal["trigger_fired"]
    code: str
    within_days: Annotated[int, Field(gt=0, le=365)] = 7


class AccountChurned(_Strict):
    """The account churned within the last ``within_days`` (win-back)."""

    rule: Literal["account_churned"]
    within_days: Annotated[int, Field(gt=0, le=3650)] = 60


EntryRule = Annotated[BandEntered | TriggerFired | AccountChurned, Field(discriminator="rule")]
ExitRule = Literal["recovered", "replied", "unsubscribed", "churned"]


class Outcome(_Strict):
    """What the A/B test counts as success.

    ``recovered_healthy``: a Healthy snapshot within ``days`` of enrolment.
    ``retained``: still a customer ``days`` after enrolment.
    Only enrolments at least ``days`` old are counted (matured), so young ones do not dilute it.
    """

    kind: Literal["recovered_healthy", "retained"] = "recovered_healthy"
    days: Annotated[int, Field(gt=0, le=730)] = 30


# --- steps -----------------------------------------------------------------------------------


class _Step(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]
    delay_days: Annotated[int, Field(ge=0, le=365)] = 0


class EmailStep(_Step):
    """An email to each of the account's contacts who may receive one (throttled)."""

    kind: Literal["email"]
    subject: str
    body: str


class CallScriptStep(_Step):
    """A call script emailed to the account owner (internal; not throttled)."""

    kind: Literal["call_script"]
    subject: str = "Call {{ account.name }}"
    body: str


class CrmTaskStep(_Step):
    """A task in the CRM for the owner; skipped when the account has no id in that CRM."""

    kind: Literal["crm_task"]
    provider: Literal["hubspot", "salesforce", "intercom"] = "hubspot"
    due_in_days: Annotated[int, Field(ge=0, le=365)] = 3
    subject: str
    body: str = ""


class SlackStep(_Step):
    """A note in the team's Slack channel (or ``channel``)."""

    kind: Literal["slack"]
    channel: str | None = None
    title: str
    body: str = ""


Step = Annotated[EmailStep | CallScriptStep | CrmTaskStep | SlackStep, Field(discriminator="kind")]


class Variant(_Strict):
    """An arm of the A/B test; without ``steps`` it runs the playbook's steps."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
    weight: Annotated[float, Field(gt=0)] = 1
    steps: tuple[Step, ...] | None = None

    @model_validator(mode="after")
    def _not_holdout(self) -> Variant:
        if self.id == "holdout":
            raise ValueError("'holdout' is reserved for the holdout group; use holdout_pct")
        return self


class PlaybookFile(_Strict):
    """One ``config/playbooks/*.yaml`` file."""

    id: ProgramId
    name: str
    description: str = ""
    enabled: bool = True
    entry: Annotated[tuple[EntryRule, ...], Field(min_length=1)]
    exit: tuple[ExitRule, ...] = ("recovered", "replied", "unsubscribed", "churned")
    holdout_pct: Annotated[float, Field(ge=0, lt=100)] = 10
    variants: tuple[Variant, ...] = ()
    steps: tuple[Step, ...] = ()
    outcome: Outcome = Outcome()
    min_sample: Annotated[int, Field(ge=1, le=100_000)] = 30
    #: With a model configured, e-mails of an at-risk or critical playbook are model drafts that
    #: wait for the owner's approval; ``true`` sends them without it (docs/llm.md).
    auto_send: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> PlaybookFile:
        ids = [v.id for v in self.variants]
        if len(ids) != len(set(ids)):
            raise ValueError("variant ids must be unique")
        if not self.steps and (not self.variants or any(v.steps is None for v in self.variants)):
            raise ValueError("steps: at least one step is needed (here or in every variant)")
        churn_entry = any(isinstance(r, AccountChurned) for r in self.entry)
        if churn_entry and "churned" in self.exit:
            raise ValueError(
                "exit: a win-back program (entry account_churned) cannot exit on 'churned'"
            )
        return self


class AutoPause(_Strict):
    window_days: Annotated[int, Field(gt=0, le=365)] = 14
    min_emails: Annotated[int, Field(ge=1, le=1_000_000)] = 20


class SurveySettings(_Strict):
    interval_days: Annotated[int, Field(gt=0, le=3650)] = 90
    max_per_account: Annotated[int, Field(ge=1, le=1000)] = 2
    token_ttl_days: Annotated[int, Field(gt=0, le=365)] = 14
    channel: Literal["email", "in_app"] = "email"
    exit_survey_within_days: Annotated[int, Field(ge=0, le=365)] = 30
    feedback_prompt_at_risk: bool = True


class SendCaps(_Strict):
    """The most messages one run queues on each channel; the rest waits for a later run.

    A program run and a survey wave each have this budget (see docs/playbooks.md).
    """

    email: Annotated[int, Field(ge=1, le=10_000_000)] = 500
    crm_task: Annotated[int, Field(ge=1, le=10_000_000)] = 200
    slack: Annotated[int, Field(ge=1, le=10_000_000)] = 50
    in_app: Annotated[int, Field(ge=1, le=10_000_000)] = 2000

    def as_dict(self) -> dict[str, int]:
        """Channel -> cap."""
        return self.model_dump()


class ProgramSettings(_Strict):
    """``config/programs.yaml``: what applies across programs."""

    throttle_days: Annotated[int, Field(ge=0, le=365)] = 7
    #: A step more than this many days past its time is skipped (``skipped: overdue``), never
    #: sent late: after a pause or an outage the crew does not send weeks-old messages at once.
    max_lateness_days: Annotated[int, Field(ge=1, le=365)] = 2
    send_caps: SendCaps = SendCaps()
    auto_pause: AutoPause = AutoPause()
    surveys: SurveySettings = SurveySettings()


# --- templates -------------------------------------------------------------------------------

#: A context with every name a template may use, for checking templates when they are loaded.
SAMPLE_ACCOUNT = {
    "id": 1,
    "name": "Acme",
    "external_id": "ACC-1",
    "segment": "smb",
    "plan": "pro",
    "arr": 12000.0,
    "owner_email": "owner@vendor.example",
    "started_at": "2025-01-01",
    "renewal_date": "2026-01-01",
    "churned_at": None,
}
SAMPLE_HEALTH = {"score": 55.0, "band": "at_risk", "as_of": "2026-01-01"}
SAMPLE_CONTACT = {"name": "Alex", "email": "alex@acme.example", "role": "admin"}


def template_context(
    *,
    account: dict[str, Any],
    health: dict[str, Any],
    program: PlaybookFile,
    variant: str,
    contact: dict[str, Any] | None = None,
    unsubscribe_url: str | None = None,
) -> dict[str, Any]:
    """The names a template sees; ``contact`` and ``unsubscribe_url`` only in emails."""
    ctx: dict[str, Any] = {
        "account": account,
        "health": health,
        "program": {"id": program.id, "name": program.name},
        "variant": variant,
    }
    if contact is not None:
        ctx["contact"] = contact
        ctx["unsubscribe_url"] = unsubscribe_url or ""
    return ctx


def _environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Any:
    """Jinja's code for ``source``, compiled once per process: compiling is most of the cost of
    loading a playbook, and every command loads them all. The environment never changes, so the
    code depends on the source alone."""
    return _environment().compile(source)


def _template(env: Any, source: str) -> Any:
    """``env.from_string(source)`` from the compiled code cache."""
    return env.template_class.from_code(env, _compiled(source), env.make_globals(None), None)


_TEMPLATE_FIELDS = ("subject", "body", "title")


@dataclass
class Playbook:
    """A validated playbook with its templates compiled."""

    spec: PlaybookFile
    path: Path

    @property
    def id(self) -> str:
        """The program id (also the pause scope suffix ``campaign:<id>``)."""
        return self.spec.id

    @property
    def serves_risk(self) -> bool:
        """True for an at-risk or critical playbook (entered on those bands or a trigger)."""
        return any(
            isinstance(r, TriggerFired)
            or (isinstance(r, BandEntered) and r.band in ("at_risk", "critical"))
            for r in self.spec.entry
        )

    def arms(self) -> list[tuple[str, float]]:
        """(variant id, weight); a playbook without variants has one arm ``default``."""
        return [(v.id, v.weight) for v in self.spec.variants] or [("default", 1.0)]

    def steps_for(self, variant: str) -> tuple[Any, ...]:
        """The steps an arm runs; the holdout runs none."""
        if variant == "holdout":
            return ()
        for v in self.spec.variants:
            if v.id == variant and v.steps is not None:
                return v.steps
        return self.spec.steps

    @cached_property
    def _templates(self) -> dict[str, Any]:
        env = _environment()
        compiled: dict[str, Any] = {}
        for key, text in self._template_sources():
            compiled[key] = _template(env, text)
        return compiled

    def _template_sources(self) -> list[tuple[str, str]]:
        sources: list[tuple[str, str]] = []
        arms: list[tuple[str, tuple[Any, ...]]] = [("steps", self.spec.steps)]
        for i, v in enumerate(self.spec.variants):
            if v.steps is not None:
                arms.append((f"variants[{i}].steps", v.steps))
        for prefix, steps in arms:
            for j, step in enumerate(steps):
                for field in _TEMPLATE_FIELDS:
                    text = getattr(step, field, None)
                    if text is not None:
                        sources.append((f"{prefix}[{j}].{field}", text))
        return sources

    def template_key(self, variant: str, step_index: int, field: str) -> str:
        """The key of a step's template, as named in error messages."""
        for i, v in enumerate(self.spec.variants):
            if v.id == variant and v.steps is not None:
                return f"variants[{i}].steps[{step_index}].{field}"
        return f"steps[{step_index}].{field}"

    def render(self, variant: str, step_index: int, field: str, context: dict[str, Any]) -> str:
        """Render one template field of one step."""
        return str(self._templates[self.template_key(variant, step_index, field)].render(context))

    def check_templates(self) -> None:
        """Parse every template and render it with a sample context; ConfigError on a problem."""
        from jinja2 import TemplateSyntaxError, UndefinedError
        from jinja2.exceptions import SecurityError

        env = _environment()
        arms_steps = {"steps": self.spec.steps} | {
            f"variants[{i}].steps": v.steps
            for i, v in enumerate(self.spec.variants)
            if v.steps is not None
        }
        for prefix, steps in arms_steps.items():
            for j, step in enumerate(steps):
                ctx = template_context(
                    account=SAMPLE_ACCOUNT,
                    health=SAMPLE_HEALTH,
                    program=self.spec,
                    variant="default",
                    contact=SAMPLE_CONTACT if step.kind == "email" else None,
                    unsubscribe_url="https://example.invalid/u",
                )
                for field in _TEMPLATE_FIELDS:
                    text = getattr(step, field, None)
                    if text is None:
                        continue
                    key = f"{prefix}[{j}].{field}"
                    try:
                        _template(env, text).render(ctx)
                    except TemplateSyntaxError as exc:
                        raise ConfigError(
                            f"{self.path}: key {key}: template error at line {exc.lineno}: "
                            f"{exc.message}"
                        ) from None
                    except UndefinedError as exc:
                        available = ", ".join(sorted(ctx))
                        raise ConfigError(
                            f"{self.path}: key {key}: template names an unknown variable "
                            f"({exc.message}); available here: {available}"
                        ) from None
                    except SecurityError as exc:
                        raise ConfigError(
                            f"{self.path}: key {key}: template not allowed: {exc}"
                        ) from None


def playbooks_dir() -> Path:
    """The directory of playbook files in force."""
    return definition_path("config", "playbooks")


def programs_settings_path() -> Path:
    """``config/programs.yaml``."""
    return definition_path("config", "programs.yaml")


def load_program_settings(path: Path | None = None) -> ProgramSettings:
    """Throttling, auto-pause and survey settings; defaults when the file does not exist."""
    path = path or programs_settings_path()
    if not path.exists():
        return ProgramSettings()
    return load_model(path, ProgramSettings)


def load_playbook(path: Path) -> Playbook:
    """One playbook file, validated, with its templates checked."""
    spec = load_model(path, PlaybookFile)
    playbook = Playbook(spec=spec, path=path)
    playbook.check_templates()
    return playbook


def load_playbooks(directory: Path | None = None) -> list[Playbook]:
    """Every ``*.yaml`` in the playbook directory, sorted by file name; ids must be unique."""
    directory = directory or playbooks_dir()
    if not directory.is_dir():
        return []
    found: dict[str, Path] = {}
    books: list[Playbook] = []
    for path in sorted(directory.glob("*.yaml")):
        book = load_playbook(path)
        if book.id in found:
            raise ConfigError(f"{path}: key id: {book.id!r} is already used by {found[book.id]}")
        found[book.id] = path
        books.append(book)
    return books


def parse_playbook(data: object, path: Path | str) -> Playbook:
    """Validate already-parsed YAML (tests, previews) the same way as a file."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: key (top level): expected a mapping of keys to values")
    try:
        spec = PlaybookFile.model_validate(data)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(path, err)) from None
    book = Playbook(spec=spec, path=Path(path))
    book.check_templates()
    return book
