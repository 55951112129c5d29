"""What the model cost and what it said: the output cache and the usage per run.

The cache holds validated outputs only, keyed by sha256 of model, prompt version and inputs
(the key is computed by the caller), so asking the same thing again costs no call. Usage rows
say, per run or command, how many calls and tokens went to which model, how many answers came
from the cache and how many fell back to the deterministic text, and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypedDict

from sqlalchemy import Connection, Engine, func, select, true

from successcrew.store.db import transaction
from successcrew.store.dialect import insert_ignore
from successcrew.store.models import ActionProposal, ModelOutput, ModelUsage

#: Keys per IN-list when reading the cache.
CHUNK = 500


def cached_outputs(engine: Engine, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The stored outputs for ``keys`` (those present), in one read per chunk."""
    found: dict[str, dict[str, Any]] = {}
    if not keys:
        return found
    with engine.connect() as conn:
        for start in range(0, len(keys), CHUNK):
            rows = conn.execute(
                select(ModelOutput.key, ModelOutput.output).where(
                    ModelOutput.key.in_(list(keys[start : start + CHUNK]))
                )
            )
            found.update({k: v for k, v in rows})
    return found


def record(
    engine: Engine,
    *,
    outputs: Iterable[Mapping[str, Any]],
    usage: Mapping[str, Any] | None,
) -> None:
    """Store new cache entries (a key stored twice keeps the first) and one usage row, together."""
    rows = [dict(o) for o in outputs]
    with transaction(engine) as session:
        for start in range(0, len(rows), CHUNK):
            session.execute(
                insert_ignore(session.connection(), ModelOutput.__table__),
                rows[start : start + CHUNK],
            )
        if usage is not None:
            session.add(ModelUsage(**usage))


#: The 30-day totals ``usage_summary`` adds up.
USAGE_TOTALS = ("runs", "calls", "prompt_tokens", "completion_tokens", "cache_hits", "fallbacks")


class UsageLine(TypedDict):
    """What one run or command spent on the model (``status`` shows it with an ISO time)."""

    crew_run_id: int | None
    command: str
    model: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cache_hits: int
    fallbacks: int
    recorded_at: str


class UsageRow(TypedDict):
    """What one run or command spent, and why it fell back to the deterministic text."""

    crew_run_id: int | None
    command: str
    model: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cache_hits: int
    fallbacks: int
    fallback_reasons: list[str]
    recorded_at: datetime


class UsageSummary(TypedDict):
    """The newest usage rows and the totals over 30 days (keys of USAGE_TOTALS)."""

    recent: list[UsageRow]
    last_30_days: dict[str, int]


class UsageStatus(TypedDict):
    """``status``'s view of usage: rows without reasons, totals, proposals per status."""

    recent: list[UsageLine]
    last_30_days: dict[str, int]
    proposals: dict[str, int]


def usage_summary(conn: Connection, *, now: datetime, last: int = 5) -> UsageSummary:
    """The last ``last`` usage rows, newest first, and the totals over the 30 days before
    ``now``, in one statement (the totals' one row joined with the recent rows)."""
    u = ModelUsage.__table__.c
    totals = (
        select(
            func.count().label("total_runs"),
            func.coalesce(func.sum(u.calls), 0).label("total_calls"),
            func.coalesce(func.sum(u.prompt_tokens), 0).label("total_prompt_tokens"),
            func.coalesce(func.sum(u.completion_tokens), 0).label("total_completion_tokens"),
            func.coalesce(func.sum(u.cache_hits), 0).label("total_cache_hits"),
            func.coalesce(func.sum(u.fallbacks), 0).label("total_fallbacks"),
        )
        .where(u.recorded_at > now - timedelta(days=30))
        .subquery("totals")
    )
    recent = select(ModelUsage.__table__).order_by(u.id.desc()).limit(last).subquery("recent")
    rows = conn.execute(
        select(totals, recent)
        .select_from(totals.outerjoin(recent, true()))
        .order_by(recent.c.id.desc())
    ).mappings()
    month: dict[str, int] = {}
    shown: list[UsageRow] = []
    for r in rows:
        month = {k: int(r[f"total_{k}"]) for k in USAGE_TOTALS}
        if r["id"] is None:  # no usage row at all: the totals' row alone
            continue
        shown.append(
            UsageRow(
                crew_run_id=r["crew_run_id"],
                command=r["command"],
                model=r["model"],
                calls=r["calls"],
                prompt_tokens=r["prompt_tokens"],
                completion_tokens=r["completion_tokens"],
                cache_hits=r["cache_hits"],
                fallbacks=r["fallbacks"],
                fallback_reasons=_reasons(r["detail"]),
                recorded_at=r["recorded_at"],
            )
        )
    return UsageSummary(recent=shown, last_30_days=month)


def _reasons(detail: Mapping[str, Any] | None) -> list[str]:
    """A usage row's fallback reasons as text, most frequent first ("reason (n)")."""
    reasons = (detail or {}).get("fallback_reasons") or {}
    return [f"{reason} ({n})" for reason, n in dict(reasons).items()]


def usage_status(conn: Connection, *, now: datetime, last: int = 5) -> UsageStatus:
    """For ``status``: the last usage rows, the totals over 30 days, proposals by status."""
    summary = usage_summary(conn, now=now, last=last)
    recent = [
        UsageLine(
            crew_run_id=row["crew_run_id"],
            command=row["command"],
            model=row["model"],
            calls=row["calls"],
            prompt_tokens=row["prompt_tokens"],
            completion_tokens=row["completion_tokens"],
            cache_hits=row["cache_hits"],
            fallbacks=row["fallbacks"],
            recorded_at=row["recorded_at"].isoformat(),
        )
        for row in summary["recent"]
    ]
    p = ActionProposal.__table__.c
    proposals = dict(conn.execute(select(p.status, func.count()).group_by(p.status)).all())
    return UsageStatus(
        recent=recent,
        last_30_days=summary["last_30_days"],
        proposals={k: int(v) for k, v in sorted(proposals.items())},
    )


class ModelStatus(UsageStatus):
    """The model configured (None: none) and its endpoint, crew mode, budget, and usage."""

    configured: str | None
    endpoint: str | None
    crew_mode: str
    budget_per_run: dict[str, int]


class ModelStatusSection(TypedDict):
    """``status``'s ``model``."""

    model: ModelStatus


def status_section(conn: Connection, runtime: Any, now: datetime) -> ModelStatusSection:
    """``status`` section ``model``: the model configured, what recent runs spent, proposals."""
    settings = runtime.settings
    return {
        "model": {
            "configured": settings.llm_model or None,
            "endpoint": (settings.llm_base_url or "https://api.openai.com/v1")
            if settings.llm_model
            else None,
            "crew_mode": settings.crew_mode,
            "budget_per_run": {"calls": settings.llm_max_calls, "tokens": settings.llm_max_tokens},
            **usage_status(conn, now=now),
        }
    }


def render_status_section(document: dict[str, Any], echo: Callable[[str], None]) -> None:
    """The model lines of ``status`` (nothing when no model was ever used)."""
    model = document.get("model") or {}
    if not model.get("configured") and not model.get("recent") and not model.get("proposals"):
        return
    echo(
        f"model     {model.get('configured') or 'none configured'}"
        + (f" at {model['endpoint']}" if model.get("endpoint") else "")
        + f"; crew mode {model.get('crew_mode')}"
    )
    month = model.get("last_30_days") or {}
    if month.get("runs"):
        echo(
            f"          last 30 days: {month['calls']} calls, {month['prompt_tokens']} prompt + "
            f"{month['completion_tokens']} completion tokens, {month['fallbacks']} fallbacks"
        )
    for row in (model.get("recent") or [])[:3]:
        run = f"run {row['crew_run_id']}" if row["crew_run_id"] else row["command"]
        echo(
            f"          {run} ({row['model']}): {row['calls']} calls, "
            f"{row['prompt_tokens'] + row['completion_tokens']} tokens, {row['cache_hits']} "
            f"cached, {row['fallbacks']} fallbacks"
        )
    if model.get("proposals"):
        shown = ", ".join(f"{n} {status}" for status, n in model["proposals"].items())
        echo(f"proposals {shown} (`successcrew proposals`)")
