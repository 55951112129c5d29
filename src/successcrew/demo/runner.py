"""``successcrew demo``: seed the configured database with synthetic history via the importer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir
from sqlalchemy import Engine, func, select

from successcrew.definitions.thresholds import Thresholds
from successcrew.demo.synthetic import generate, write_csv
from successcrew.errors import InputError
from successcrew.imports.pipeline import ImportResult, import_file
from successcrew.services.platform.setup import initialise
from successcrew.settings import Settings
from successcrew.store.models import Account

DEMO_PREFIX = "ACC-"
DEMO_END = date(2026, 11, 1)


@dataclass
class DemoResult:
    """What the demo loaded and where its files are."""

    data_dir: Path
    imports: list[ImportResult] = field(default_factory=list)
    churned_truth: int = 0
    accounts: int = 0
    crew: dict[str, Any] | None = None
    #: Crew runs an earlier demo recorded for the same simulated days (the crew did not run).
    already_ran: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "data_dir": str(self.data_dir),
            "accounts_generated": self.accounts,
            "churned_in_ground_truth": self.churned_truth,
            "imports": [r.as_dict() for r in self.imports],
            "crew": self.crew,
            "crew_already_ran": self.already_ran,
        }


def _refuse_foreign_data(engine: Engine) -> None:
    with engine.connect() as conn:
        foreign = conn.execute(
            select(func.count()).where(~Account.__table__.c.external_id.startswith(DEMO_PREFIX))
        ).scalar_one()
    if foreign:
        raise InputError(
            f"the database already holds {foreign} account(s) that are not demo accounts; the "
            "demo will not mix synthetic data into real data. Point SUCCESSCREW_DATABASE_URL at "
            "another database (or unset it to use the embedded SQLite file)."
        )


def run_demo(
    engine: Engine,
    *,
    now: datetime,
    accounts: int = 300,
    seed: int = 7,
    days: int = 365,
    data_dir: Path | None = None,
    on_step: Callable[[str], None] | None = None,
    crew_days: int = 0,
    settings: Settings | None = None,
    thresholds: Thresholds | None = None,
    incidents: bool = True,
) -> DemoResult:
    """Create the schema, generate history and import it; safe to run again (idempotent).

    With ``crew_days``, then simulate the crew's first days over the last ``crew_days`` days of
    the history (one ``run`` tick a day, outbox only), so that it scores accounts whose usage is
    still coming in; every read is bounded by the simulated clock. A second demo finds that work
    done and repeats none of it.
    """
    say = on_step or (lambda _msg: None)
    initialise(engine, now=now)
    _refuse_foreign_data(engine)
    data = generate(seed=seed, accounts=accounts, end=DEMO_END, days=days, incidents=incidents)
    target = data_dir or Path(user_data_dir("successcrew", appauthor=False)) / "demo-data"
    paths = write_csv(data, target)
    say(f"generated {accounts} accounts, {len(data.usage)} usage rows into {target}")
    result = DemoResult(
        data_dir=target,
        accounts=accounts,
        churned_truth=sum(1 for t in data.truth if t["churned_at"]),
    )
    for kind in data.kinds():
        outcome = import_file(engine, kind, paths[kind], now=now, actor="demo")
        say(
            f"imported {kind}: {outcome.rows} rows ({outcome.inserted} new, "
            f"{outcome.updated} updated, {outcome.unchanged} unchanged)"
        )
        result.imports.append(outcome)
    scenario = data.scenario
    first_day = DEMO_END - timedelta(days=crew_days)
    backlog = paths.get("usage_backlog")
    late = (
        backlog is not None
        and crew_days > 0
        and scenario is not None
        and scenario.backlog_arrives is not None
        and scenario.backlog_arrives >= first_day
    )
    if backlog is not None and not late:
        # No simulated day to deliver it on: the late usage is part of the history.
        result.imports.append(import_file(engine, "usage", backlog, now=now, actor="demo"))
    if crew_days:
        from successcrew.definitions.thresholds import load_thresholds
        from successcrew.demo.simulation import CrewDemoResult, crew_runs_between, simulate, totals
        from successcrew.settings import load_settings

        result.already_ran = crew_runs_between(engine, first_day, crew_days)
        if result.already_ran:
            # The crew's days are history now: running them again would only add empty runs.
            say(
                f"the crew already ran for these {crew_days} simulated days "
                f"({result.already_ran} run(s) from {first_day}); nothing added"
            )
            done = CrewDemoResult(first_day=first_day, days=crew_days, totals=totals(engine))
            result.crew = done.as_dict()
            return result
        say(
            f"running the crew for {crew_days} simulated days (outbox only: no message leaves "
            "this machine; the CRM is a HubSpot stand-in on loopback)"
        )
        simulated = simulate(
            engine,
            settings=settings or load_settings(),
            thresholds=thresholds or load_thresholds(),
            first_day=first_day,
            days=crew_days,
            say=say,
            scenario=scenario,
            usage_backlog=backlog if late else None,
        )
        result.crew = simulated.as_dict()
    return result
