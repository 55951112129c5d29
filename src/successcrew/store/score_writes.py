"""Writing health scores: a scoring run into health_snapshots (upsert by account and date), the
model layouts the snapshots point at, the run summary, the backtest's in-memory scoring, and
carrying the last good scores forward when a run fails."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    and_,
    case,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from successcrew.definitions.health_model import (
    DaysSinceActivity,
    HealthModel,
    ResolvedModel,
)
from successcrew.definitions.thresholds import HealthBands
from successcrew.store.dialect import (
    insert_ignore,
    parallel_source,
    rowcount,
    text_value,
    tune_for_batch,
    upsert,
)
from successcrew.store.models import (
    Account,
    HealthModelLayout,
    HealthSnapshot,
)
from successcrew.store.scoring_sql import BAND_ORDER, eligible_accounts, scoring_select, usage_weeks
from successcrew.store.types import UTCDateTime
from successcrew.store.usage import settle_usage

SNAPSHOT_COLUMNS = (
    "account_id",
    "as_of",
    "score",
    "computed_score",
    "band",
    "layout_id",
    "component_values",
    "model_version",
    "override_id",
    "stale",
    "stale_components",
    "created_at",
)


@dataclass
class ScoreRun:
    """What one scoring run did."""

    as_of: date
    scored: int
    eligible: int
    bands: dict[str, int] = field(default_factory=dict)
    overridden: int = 0
    model_version: str = ""

    @property
    def unscored(self) -> int:
        """Customers on as_of without data for any component (no snapshot written)."""
        return self.eligible - self.scored

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "as_of": self.as_of.isoformat(),
            "model_version": self.model_version,
            "eligible": self.eligible,
            "scored": self.scored,
            "unscored_no_data": self.unscored,
            "overridden": self.overridden,
            "bands": self.bands,
        }


def layout_of(model: ResolvedModel) -> list[dict[str, Any]]:
    """What a snapshot of ``model`` needs besides its numbers: each component's name and words."""
    out = []
    for c in model.components:
        meta: dict[str, Any] = {
            "name": c.name,
            "kind": c.kind,
            "label": c.label,
            "metric": getattr(c.spec, "metric", None),
            "window_days": getattr(c.spec, "window_days", None),
        }
        if isinstance(c.spec, DaysSinceActivity):
            meta["lookback_days"] = c.spec.lookback_days
        out.append(meta)
    return out


def register_layouts(session: Session, model: HealthModel, *, now: datetime) -> list[int]:
    """The layout id of each resolved model (the default first), stored when new."""
    ids = []
    for resolved in model.models():
        components = layout_of(resolved)
        digest = hashlib.sha256(
            json.dumps(
                {"model_version": resolved.version, "components": components}, sort_keys=True
            ).encode()
        ).hexdigest()
        found = session.scalar(
            select(HealthModelLayout.id).where(HealthModelLayout.digest == digest)
        )
        if found is None:
            session.execute(
                insert_ignore(session.connection(), HealthModelLayout.__table__).values(
                    digest=digest,
                    model_version=resolved.version,
                    components=components,
                    created_at=now,
                )
            )
            found = session.scalar(
                select(HealthModelLayout.id).where(HealthModelLayout.digest == digest)
            )
        assert found is not None
        ids.append(int(found))
    return ids


def segment_sizes(session: Session, as_of: date) -> dict[str | None, int]:
    """Customers per segment on ``as_of`` (None: accounts without a segment); one grouped scan."""
    rows = session.execute(
        select(Account.segment, func.count())
        .where(eligible_accounts(as_of))
        .group_by(Account.segment)
    )
    return {segment: int(n) for segment, n in rows}


def score_accounts(
    session: Session,
    model: HealthModel,
    bands: HealthBands,
    as_of: date,
    *,
    now: datetime,
    stale_feeds: frozenset[str] = frozenset(),
    sizes: dict[str | None, int] | None = None,
) -> ScoreRun:
    """Compute and store snapshots for every customer on ``as_of`` (replacing that date's).

    Components reading an input in ``stale_feeds`` are left out (``domain.freshness``) and
    named in each snapshot's ``stale_components``. ``sizes``: ``segment_sizes`` on ``as_of``,
    when the caller has them already.
    """
    layout_ids = register_layouts(session, model, now=now)
    conn = session.connection()
    settle_usage(conn, as_of, usage_weeks(model, as_of))
    tune_for_batch(conn)
    query = scoring_select(
        model,
        as_of,
        bands,
        now=now,
        with_overrides=True,
        layout_ids=layout_ids,
        stale_feeds=stale_feeds,
        segment_sizes=segment_sizes(session, as_of) if sizes is None else sizes,
    )
    source, temp = parallel_source(conn, query, "scoring_rows", SNAPSHOT_COLUMNS)
    table = HealthSnapshot.__table__
    # One scoring run per date at a time: then "nothing stored for this date yet" stays true
    # until the INSERT, and the usual case (the daily run, a new date) is a plain INSERT, which
    # costs a quarter less than ON CONFLICT checking every key first.
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtext("successcrew.scoring"))))
    if session.scalar(select(exists().where(HealthSnapshot.as_of == as_of))):
        stmt = upsert(conn, table).from_select(list(SNAPSHOT_COLUMNS), source)
        stmt = stmt.on_conflict_do_update(
            index_elements=["account_id", "as_of"],
            set_={col: stmt.excluded[col] for col in SNAPSHOT_COLUMNS if col != "account_id"},
        )
        session.execute(stmt)
    else:
        session.execute(table.insert().from_select(list(SNAPSHOT_COLUMNS), source))
    # Counted from the rows just computed where they sit in a small temporary table: re-reading
    # the snapshot table for the date costs more (and more with every re-run's dead rows).
    counted = None if temp is None else source.subquery("scored_rows")
    run = summarise(session, as_of, model.version, rows=counted)
    if temp is not None:
        conn.exec_driver_sql(f"DROP TABLE {temp}")
    return run


def summarise(session: Session, as_of: date, version: str = "", rows: Any = None) -> ScoreRun:
    """Counts of the snapshots stored for ``as_of`` (or of ``rows``, the run's own)."""
    if rows is None:
        rows = (
            select(HealthSnapshot.band, HealthSnapshot.override_id)
            .where(HealthSnapshot.as_of == as_of)
            .subquery("stored_rows")
        )
    counts_by_band = session.execute(
        select(
            rows.c.band,
            func.count(),
            func.sum(case((rows.c.override_id.is_not(None), 1), else_=0)),
        ).group_by(rows.c.band)
    ).all()
    eligible = session.scalar(select(func.count()).where(eligible_accounts(as_of))) or 0
    counts = {b: 0 for b in BAND_ORDER}
    overridden = 0
    for band, count, over in counts_by_band:
        counts[band] = int(count)
        overridden += int(over or 0)
    return ScoreRun(
        as_of=as_of,
        scored=sum(counts.values()),
        eligible=int(eligible),
        bands=counts,
        overridden=overridden,
        model_version=version,
    )


def in_memory_select(
    session: Session,
    model: HealthModel,
    bands: HealthBands,
    as_of: date,
    *,
    now: datetime,
    stale_feeds: frozenset[str] = frozenset(),
) -> Any:
    """The scoring query for ``as_of`` as a subquery, nothing written, overrides left out."""
    settle_usage(session.connection(), as_of, usage_weeks(model, as_of))
    tune_for_batch(session.connection())
    return scoring_select(
        model,
        as_of,
        bands,
        now=now,
        with_overrides=False,
        stale_feeds=stale_feeds,
        segment_sizes=segment_sizes(session, as_of),
    ).subquery("in_memory")


def score_in_memory(
    session: Session, model: HealthModel, bands: HealthBands, as_of: date, *, now: datetime
) -> list[tuple[int, float, str]]:
    """(account_id, computed score, band) for ``as_of`` without writing anything (backtests).

    The same query as ``score_accounts``; manual overrides are left out because the backtest
    judges the model, not the people.
    """
    query = in_memory_select(session, model, bands, as_of, now=now)
    rows = session.execute(select(query.c.account_id, query.c.score, query.c.band))
    return [(int(a), float(score), str(band)) for a, score, band in rows]


def model_change_bands(
    session: Session,
    model: HealthModel,
    bands: HealthBands,
    as_of: date,
    *,
    now: datetime,
    stale_feeds: frozenset[str] = frozenset(),
) -> list[tuple[str, str, int, float]]:
    """What ``model`` alone changes on ``as_of``'s data against the snapshots stored for it.

    The date is re-scored with ``model`` in memory and joined to its stored snapshots, both
    without manual overrides (the computed scores): (band before, band with ``model``, accounts,
    summed absolute score change) per pair of bands, in one grouped query.
    """
    new = in_memory_select(session, model, bands, as_of, now=now, stale_feeds=stale_feeds)
    old = HealthSnapshot
    computed = func.coalesce(old.computed_score, old.score)
    old_band = case(
        (computed >= bands.healthy.min, text_value("healthy")),
        (computed >= bands.at_risk.min, text_value("at_risk")),
        else_=text_value("critical"),
    )
    pairs = (
        select(
            old_band.label("before"),
            new.c.band.label("after"),
            func.abs(new.c.computed_score - computed).label("shift"),
        )
        .join(new, new.c.account_id == old.account_id)
        .where(old.as_of == as_of, old.stale.is_(False))
        .subquery("model_pairs")
    )
    rows = session.execute(
        select(pairs.c.before, pairs.c.after, func.count(), func.sum(pairs.c.shift)).group_by(
            pairs.c.before, pairs.c.after
        )
    )
    return [(str(a), str(b), int(n), float(d or 0)) for a, b, n, d in rows]


def carry_forward(session: Session, as_of: date, *, now: datetime) -> int:
    """Copy each customer's last good snapshot before ``as_of`` to ``as_of``, flagged stale.

    Snapshots already stored for ``as_of`` stand (ON CONFLICT DO NOTHING). Returns rows copied.
    """
    latest = (
        select(HealthSnapshot.account_id, func.max(HealthSnapshot.as_of).label("as_of"))
        .where(HealthSnapshot.as_of < as_of, HealthSnapshot.stale.is_(False))
        .group_by(HealthSnapshot.account_id)
        .subquery("last_good")
    )
    source = (
        select(
            HealthSnapshot.account_id,
            literal(as_of, Date()),
            HealthSnapshot.score,
            HealthSnapshot.computed_score,
            HealthSnapshot.band,
            HealthSnapshot.layout_id,
            HealthSnapshot.component_values,
            HealthSnapshot.model_version,
            HealthSnapshot.override_id,
            literal(True, Boolean()),
            HealthSnapshot.stale_key,
            literal(now, UTCDateTime()),
            # A snapshot from before layouts keeps its whole document.
            HealthSnapshot.legacy_components,
            HealthSnapshot.legacy_missing,
        )
        .join(
            latest,
            and_(
                latest.c.account_id == HealthSnapshot.account_id,
                latest.c.as_of == HealthSnapshot.as_of,
            ),
        )
        .join(Account, Account.id == HealthSnapshot.account_id)
        .where(eligible_accounts(as_of))
    )
    stmt = (
        upsert(session.connection(), HealthSnapshot.__table__)
        .from_select([*SNAPSHOT_COLUMNS, "components", "missing_components"], source)
        .on_conflict_do_nothing(index_elements=["account_id", "as_of"])
        # Without it SQLAlchemy keeps the row count of UPDATE and DELETE only (-1 on psycopg).
        .execution_options(preserve_rowcount=True)
    )
    return rowcount(session.execute(stmt))
