"""Health scores in SQL: one set-based statement for all accounts, on SQLite and PostgreSQL.

The statement has these stages, each a CTE:

``raw``        one row per customer, one column per distinct component definition: the raw
               value aggregated from ``usage_daily`` (one grouped scan over the longest window,
               grouped by account), tickets, invoices and NPS answers; NULL where the
               account has no data for that component. Materialised, computed once.
``book``       only when a segment is too small to rank within (``min_segment_size``): the
               raw values' mid-ranks within the whole book, for that segment's accounts.
``raw_i``      for model i (the default, then each overridden segment): its accounts and columns.
``norm_i``     each raw value normalised to 0-1: percentile (mid-rank within the segment, by
               window functions), min-max within the segment, or against a target.
``sums_i``     the weights of the components with data and the weighted sum.
``calc_i``     the computed score, each component's effective weight and contribution in points.
``scored_i``   the active manual override, if any, and the final score.

A component whose input is stale (``stale_feeds``, see ``domain.freshness``) is NULL for every
account: left out and the other weights renormalised, as for an account without data; its
input is not read at all.

Each model's final SELECT adds the band and builds the snapshot's JSON; the models are joined by
UNION ALL. ``score_accounts`` feeds the whole into one INSERT .. ON CONFLICT (account_id, as_of)
DO UPDATE; the backtest reads it into memory instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    Float,
    Integer,
    Select,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import aliased

from successcrew.clock import start_of_day
from successcrew.definitions.health_model import (
    Billing,
    DaysSinceActivity,
    HealthModel,
    LatestNps,
    MinMax,
    Percentile,
    ResolvedComponent,
    ResolvedModel,
    SupportLoad,
    Target,
    Trend,
    UsageTotal,
)
from successcrew.definitions.thresholds import HealthBands
from successcrew.domain.freshness import component_feed
from successcrew.domain.usage_plan import UsagePlan, plan_usage
from successcrew.store.dialect import (
    days_between,
    float_array,
    round2,
    text_value,
)
from successcrew.store.models import (
    Account,
    Invoice,
    NpsResponse,
    ScoreOverride,
    Ticket,
    UsageDaily,
    UsageFirstActivity,
    UsageWeekly,
)
from successcrew.store.types import UTCDateTime

#: The component name system-health checks use for the scoring job (RETENTION-004).
COMPONENT = "health_scoring"
BAND_ORDER = ("healthy", "at_risk", "critical")


def _clamp01(expr: ColumnElement[Any]) -> ColumnElement[Any]:
    # CASE rather than GREATEST/LEAST (PostgreSQL) or scalar max/min (SQLite): one spelling.
    return case((expr < 0, 0.0), (expr > 1, 1.0), else_=expr)


def eligible_accounts(as_of: date) -> ColumnElement[bool]:
    """Accounts that are customers on ``as_of``: started by then, not churned on or before it."""
    return and_(
        or_(Account.started_at.is_(None), Account.started_at <= as_of),
        or_(Account.churned_at.is_(None), Account.churned_at > as_of),
    )


def _segment_filter(
    segment: Any, model: ResolvedModel, overridden: list[str]
) -> ColumnElement[bool]:
    if model.segment is not None:
        return segment == model.segment
    if not overridden:
        return true()
    return or_(segment.is_(None), segment.not_in(overridden))


def _raw_key(spec: Any) -> str:
    # Components with the same definition share one raw column, whichever model they are in.
    return spec.model_dump_json(exclude={"weight", "normalise", "label", "direction"})


def _usage_lengths(comps: list[ResolvedComponent]) -> tuple[dict[str, set[int]], set[str]]:
    """Window lengths summed per usage metric, and the metrics days-since components read."""
    lengths: dict[str, set[int]] = {}
    recency: set[str] = set()
    for c in comps:
        spec = c.spec
        if isinstance(spec, UsageTotal):
            lengths.setdefault(spec.metric, set()).add(spec.window_days)
        elif isinstance(spec, Trend):
            lengths.setdefault(spec.metric, set()).update((spec.window_days, 2 * spec.window_days))
        elif isinstance(spec, DaysSinceActivity):
            lengths.setdefault(spec.metric, set())
            recency.add(spec.metric)
    return lengths, recency


def _plan_lengths(comps: list[ResolvedComponent]) -> set[int]:
    lengths, _ = _usage_lengths(comps)
    out = {w for ws in lengths.values() for w in ws}
    out |= {c.spec.lookback_days for c in comps if isinstance(c.spec, DaysSinceActivity)}
    return out


def _distinct_components(model: HealthModel) -> list[ResolvedComponent]:
    # Components with the same definition share one raw column, whichever model they are in.
    keyed: dict[str, ResolvedComponent] = {}
    for resolved in model.models():
        for c in resolved.components:
            key = _raw_key(c.spec)
            if key not in keyed:
                keyed[key] = ResolvedComponent(name=f"k{len(keyed)}", spec=c.spec, weight=0.0)
    return list(keyed.values())


def usage_weeks(model: HealthModel, as_of: date) -> tuple[date, ...]:
    """The weeks (Mondays) scoring ``model`` on ``as_of`` reads from ``usage_weekly``."""
    lengths = _plan_lengths(_distinct_components(model))
    return plan_usage(as_of, lengths).weeks if lengths else ()


def _usage_source(metrics: list[str], plan: UsagePlan) -> Any:
    """Rows (account_id, metric, d, last, value): the plan's weeks and days, in one scan."""
    daily = UsageDaily.__table__.c
    parts: list[Any] = []
    if plan.day_ranges:
        parts.append(
            select(
                daily.account_id,
                daily.metric,
                daily.day.label("d"),
                case((daily.value > 0, daily.day), else_=null()).label("last"),
                daily.value,
            ).where(
                daily.metric.in_(metrics),
                or_(*(and_(daily.day >= a, daily.day <= b) for a, b in plan.day_ranges)),
            )
        )
    if plan.weeks:
        weekly = UsageWeekly.__table__.c
        parts.append(
            select(
                weekly.account_id,
                weekly.metric,
                weekly.week_start.label("d"),
                weekly.last_day.label("last"),
                weekly.value,
            ).where(weekly.metric.in_(metrics), weekly.week_start.in_(list(plan.weeks)))
        )
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("usage_rows")


def _raw_stage(all_comps: list[ResolvedComponent], as_of: date, stale_feeds: frozenset[str]) -> Any:
    """The ``raw`` CTE: id, segment and ``r_<name>`` for ``all_comps`` for every customer;
    NULL for every account where the component's input is in ``stale_feeds``.

    Materialised: the later stages refer to each raw value several times (partition, order,
    CASE), and an inlined expression would be evaluated again, subqueries included, each time.
    """
    comps = [c for c in all_comps if component_feed(c.spec) not in stale_feeds]
    end_ts = start_of_day(as_of + timedelta(days=1))
    accounts = (
        select(Account.id.label("id"), Account.segment.label("segment"))
        .where(eligible_accounts(as_of))
        .cte("accounts_in_scope")
    )
    # Usage in one grouped scan over the longest window or lookback, grouped by account only:
    # one filtered sum per (metric, window length) and, for days-since components, the last
    # active day per metric. Grouping by account alone (an integer key) rather than by (account,
    # metric) and pivoting afterwards halves the cost of the aggregate; the FILTER clauses cost
    # less per row than the hash lookup on the text key they replace. The scan reads whole weeks
    # inside the windows from usage_weekly (one row instead of seven) and the other days from
    # usage_daily: see domain.usage_plan.
    lengths, recency_metrics = _usage_lengths(comps)
    usage_metrics = sorted(lengths)
    usage = None
    if usage_metrics:
        spans = _plan_lengths(comps)
        plan = plan_usage(as_of, spans)
        horizon = max(spans)
        src = _usage_source(usage_metrics, plan)
        day, value, metric_col = src.c.d, src.c.value, src.c.metric
        usage_cols: list[Any] = []
        for m_index, metric_name in enumerate(usage_metrics):
            is_metric = metric_col == metric_name
            for w in sorted(lengths[metric_name]):
                if w == horizon:
                    total: Any = func.sum(value).filter(is_metric)
                else:
                    # A weekly row's d is its Monday; the plan only uses weeks a window holds
                    # whole or not at all, so comparing the Monday decides for all seven days.
                    since = as_of - timedelta(days=w)
                    total = func.sum(value).filter(is_metric, day > since)
                usage_cols.append(total.label(f"s_{m_index}_{w}"))
            if metric_name in recency_metrics:
                usage_cols.append(func.max(src.c.last).filter(is_metric).label(f"last_{m_index}"))
        usage = (
            select(src.c.account_id.label("account_id"), *usage_cols)
            .group_by(src.c.account_id)
            .cte("usage_window")
        )

    def window_sum(metric_name: str, w: int) -> Any:
        assert usage is not None
        return func.coalesce(usage.c[f"s_{usage_metrics.index(metric_name)}_{w}"], 0.0)

    def ever_used(metric_name: str) -> ColumnElement[bool]:
        # "No data" versus "quiet": activity inside the scanned days settles it; only accounts
        # without any (few, usually) look up their first active day, one index probe each. CASE
        # rather than OR so the probe is never evaluated for the others.
        assert usage is not None
        m_index = usage_metrics.index(metric_name)
        seen = []
        if lengths[metric_name]:
            seen.append(usage.c[f"s_{m_index}_{max(lengths[metric_name])}"] > 0)
        if metric_name in recency_metrics:
            seen.append(usage.c[f"last_{m_index}"].is_not(None))
        first = UsageFirstActivity
        probe = exists().where(
            first.account_id == accounts.c.id,
            first.metric == metric_name,
            first.first_day <= as_of,
        )
        return case((or_(*seen), true()), else_=probe)

    def days_since(spec: DaysSinceActivity) -> ColumnElement[Any]:
        # Within the lookback the exact count; active before it only: the lookback itself,
        # meaning "at least that many"; never active by as_of: no data.
        assert usage is not None
        last = usage.c[f"last_{usage_metrics.index(spec.metric)}"]
        return case(
            (
                last > as_of - timedelta(days=spec.lookback_days),
                days_between(literal(as_of, Date()), last),
            ),
            (ever_used(spec.metric), literal(spec.lookback_days, Integer())),
            else_=null(),
        )

    support = [c for c in comps if isinstance(c.spec, SupportLoad)]
    tickets = None
    if support:
        is_open = or_(Ticket.closed_at.is_(None), Ticket.closed_at >= end_ts)
        ticket_cols = []
        for c in support:
            assert isinstance(c.spec, SupportLoad)
            weight = case(
                *((Ticket.priority == p, w) for p, w in c.spec.priority_weights.items()),
                else_=1.0,
            )
            ticket_cols.append(func.sum(case((is_open, weight), else_=0.0)).label(f"t_{c.name}"))
        tickets = (
            select(Ticket.account_id.label("account_id"), *ticket_cols)
            .where(Ticket.opened_at < end_ts)
            .group_by(Ticket.account_id)
            .cte("ticket_load")
        )

    invoices = None
    if any(isinstance(c.spec, Billing) for c in comps):
        paid = or_(
            and_(Invoice.paid_at.is_not(None), Invoice.paid_at <= as_of),
            and_(Invoice.paid_at.is_(None), Invoice.status == "paid"),
        )
        overdue = and_(Invoice.status != "void", Invoice.due_at < as_of, ~paid)
        invoices = (
            select(
                Invoice.account_id.label("account_id"),
                func.sum(case((overdue, 1), else_=0)).label("overdue"),
            )
            .where(func.coalesce(Invoice.issued_at, Invoice.due_at) <= as_of)
            .group_by(Invoice.account_id)
            .cte("invoice_state")
        )

    raw_cols: list[Any] = [accounts.c.id.label("id"), accounts.c.segment.label("segment")]
    for c in all_comps:
        spec = c.spec
        if c not in comps:
            # Typed, so every later stage's arithmetic on it is valid on PostgreSQL.
            expr: Any = cast(null(), Float())
        elif isinstance(spec, UsageTotal):
            expr = case(
                (ever_used(spec.metric), window_sum(spec.metric, spec.window_days)),
                else_=null(),
            )
        elif isinstance(spec, Trend):
            w = spec.window_days
            recent = window_sum(spec.metric, w)
            prior = window_sum(spec.metric, 2 * w) - recent
            # No activity in the earlier window: there is nothing to compare with.
            expr = case((prior <= 0, null()), else_=(recent - prior) / prior)
        elif isinstance(spec, DaysSinceActivity):
            expr = days_since(spec)
        elif isinstance(spec, SupportLoad):
            assert tickets is not None
            expr = tickets.c[f"t_{c.name}"]
        elif isinstance(spec, LatestNps):
            since = start_of_day(as_of - timedelta(days=spec.max_age_days - 1))
            expr = (
                select(NpsResponse.score)
                .where(
                    NpsResponse.account_id == accounts.c.id,
                    NpsResponse.responded_at < end_ts,
                    NpsResponse.responded_at >= since,
                )
                .order_by(NpsResponse.responded_at.desc(), NpsResponse.id.desc())
                .limit(1)
                .scalar_subquery()
            )
        elif isinstance(spec, Billing):
            assert invoices is not None
            expr = invoices.c.overdue
        else:  # pragma: no cover - the config model admits no other kind
            raise TypeError(f"unknown component kind {spec.kind}")
        raw_cols.append(expr.label(f"r_{c.name}"))

    query = select(*raw_cols).select_from(accounts)
    for cte in (usage, tickets, invoices):
        if cte is not None:
            query = query.outerjoin(cte, cte.c.account_id == accounts.c.id)
    return query.cte("raw").prefix_with("MATERIALIZED")


def _mid_rank(r: Any, partition: list[Any], ascending: bool) -> ColumnElement[Any]:
    # Mid-rank: (accounts below + accounts at or below) / 2n. Ties share one value; NULLs form
    # their own partition so they never take ranks from accounts with data.
    partition = [*partition, case((r.is_(None), 1), else_=0)]
    order = r.asc() if ascending else r.desc()
    rank = func.rank().over(partition_by=partition, order_by=order)
    cume = func.cume_dist().over(partition_by=partition, order_by=order)
    n = func.count().over(partition_by=partition)
    return ((rank - 1) + cume * n) / (2.0 * n)


def _in_segments(segment: Any, segments: frozenset[str | None]) -> ColumnElement[bool]:
    named = sorted(s for s in segments if s is not None)
    parts: list[ColumnElement[bool]] = [segment.in_(named)] if named else []
    if None in segments:
        parts.append(segment.is_(None))
    return or_(*parts)


def _small_segments(
    rule: Percentile,
    model: ResolvedModel,
    overridden: list[str],
    sizes: Mapping[str | None, int] | None,
) -> frozenset[str | None]:
    """The segments of ``model`` with fewer customers than ``rule.min_segment_size``."""
    if not sizes:
        return frozenset()
    mine = (
        [model.segment]
        if model.segment is not None
        else [s for s in sizes if s is None or s not in overridden]
    )
    return frozenset(s for s in mine if sizes.get(s, 0) < rule.min_segment_size)


def _book_stage(raw: Any, names: list[str]) -> Any:
    """The ``book`` CTE: ``raw`` plus, for ``names``, each value's ascending mid-rank among all
    customers (``b_<name>``), for the accounts of segments too small to rank within."""
    return select(
        raw,
        *(_mid_rank(raw.c[f"r_{n}"], [], True).label(f"b_{n}") for n in names),
    ).cte("book")


def _normalised(
    c: ResolvedComponent, raw: Any, small: frozenset[str | None] = frozenset()
) -> ColumnElement[Any]:
    r = raw.c[f"r_{c.name}"]
    rule = c.spec.normalise
    if isinstance(rule, Target):
        scale = 1.0 / (rule.target - rule.worst)
        return case((r.is_(None), null()), else_=_clamp01((r - rule.worst) * scale))
    if isinstance(rule, Percentile):
        value: Any = _mid_rank(r, [raw.c.segment], c.higher_is_better)
        if small:
            # The mid-rank over the whole book, turned round for "lower is better" (with ties
            # as mid-ranks, the descending rank is one minus the ascending one).
            book = raw.c[f"b_{c.name}"]
            book = book if c.higher_is_better else 1.0 - book
            value = case((_in_segments(raw.c.segment, small), book), else_=value)
        if isinstance(c.spec, UsageTotal) and c.higher_is_better:
            # No activity in the window is the bottom, however many accounts share it: tied at
            # zero they would get a mid-rank above 0, above active accounts ranked elsewhere.
            return case((r.is_(None), null()), (r <= 0, 0.0), else_=value)
        return case((r.is_(None), null()), else_=value)
    if isinstance(rule, MinMax):
        low = func.min(r).over(partition_by=[raw.c.segment])
        high = func.max(r).over(partition_by=[raw.c.segment])
        position = case((high == low, 0.5), else_=(r - low) * 1.0 / (high - low))
        if not c.higher_is_better:
            position = 1.0 - position
        return case((r.is_(None), null()), else_=position)
    raise TypeError(f"unknown normalisation {rule}")  # pragma: no cover


def scoring_select(
    model: HealthModel,
    as_of: date,
    bands: HealthBands,
    *,
    now: datetime,
    with_overrides: bool = True,
    layout_ids: list[int] | None = None,
    stale_feeds: frozenset[str] = frozenset(),
    segment_sizes: Mapping[str | None, int] | None = None,
) -> Any:
    """Snapshot rows (the ``health_snapshots`` columns) for every customer on ``as_of``.

    One statement for all resolved models: the raw values are aggregated once for every
    customer, then each model (the default, each overridden segment) normalises and weighs its
    own accounts; the parts are joined by UNION ALL. Accounts without data for any component get
    no row: there is nothing to score them on. ``layout_ids`` (from ``register_layouts``, one per
    resolved model) are written with the component values; without them the values are left out,
    which is all a backtest needs.

    ``stale_feeds`` names the inputs to leave out (``domain.freshness``); ``segment_sizes``
    (customers per segment on ``as_of``) lets percentile components rank a segment that is too
    small within the whole book.
    """
    distinct = _distinct_components(model)
    keyed = {_raw_key(c.spec): c for c in distinct}
    raw = _raw_stage(distinct, as_of, stale_feeds)
    overridden = sorted(model.segments)
    small: dict[tuple[int, str], frozenset[str | None]] = {}
    for index, resolved in enumerate(model.models()):
        for c in resolved.components:
            rule = c.spec.normalise
            if isinstance(rule, Percentile):
                found = _small_segments(rule, resolved, overridden, segment_sizes)
                if found:
                    small[index, c.name] = found
    book_names = sorted(
        {
            keyed[_raw_key(c.spec)].name
            for i, m in enumerate(model.models())
            for c in m.components
            if (i, c.name) in small
        }
    )
    if book_names:
        raw = _book_stage(raw, book_names)
    parts = [
        _model_select(
            resolved,
            index,
            raw,
            {c.name: keyed[_raw_key(c.spec)].name for c in resolved.components},
            overridden,
            as_of,
            bands,
            now=now,
            with_overrides=with_overrides,
            layout_id=None if layout_ids is None else layout_ids[index],
            small={name: seg for (i, name), seg in small.items() if i == index},
            stale=[c.name for c in resolved.components if component_feed(c.spec) in stale_feeds],
        )
        for index, resolved in enumerate(model.models())
    ]
    return parts[0] if len(parts) == 1 else union_all(*parts)


def _model_select(
    model: ResolvedModel,
    index: int,
    raw_all: Any,
    raw_names: dict[str, str],
    overridden: list[str],
    as_of: date,
    bands: HealthBands,
    *,
    now: datetime,
    with_overrides: bool,
    layout_id: int | None,
    small: Mapping[str, frozenset[str | None]],
    stale: list[str],
) -> Select:
    comps = model.components
    raw = (
        select(
            raw_all.c.id,
            raw_all.c.segment,
            *(raw_all.c[f"r_{raw_names[c.name]}"].label(f"r_{c.name}") for c in comps),
            *(
                raw_all.c[f"b_{raw_names[c.name]}"].label(f"b_{c.name}")
                for c in comps
                if c.name in small
            ),
        )
        .where(_segment_filter(raw_all.c.segment, model, overridden))
        .cte(f"raw_{index}")
    )
    norm = select(
        raw.c.id,
        *(raw.c[f"r_{c.name}"] for c in comps),
        *(_normalised(c, raw, small.get(c.name, frozenset())).label(f"n_{c.name}") for c in comps),
    ).cte(f"norm_{index}")

    present = {c.name: case((norm.c[f"n_{c.name}"].is_(None), 0.0), else_=c.weight) for c in comps}
    weight_sum = sum(present.values(), start=literal(0.0, Float()))
    weighted = sum(
        (func.coalesce(norm.c[f"n_{c.name}"], 0.0) * c.weight for c in comps),
        start=literal(0.0, Float()),
    )
    sums = (
        select(
            norm.c.id,
            *(norm.c[f"r_{c.name}"] for c in comps),
            *(norm.c[f"n_{c.name}"] for c in comps),
            weight_sum.label("weight_sum"),
            weighted.label("weighted"),
        )
        .where(weight_sum > 0)
        # Materialised here and in calc: inlined, every later reference to weight_sum, a
        # computed score or a contribution would evaluate its whole expression again.
        .cte(f"sums_{index}")
        .prefix_with("MATERIALIZED")
    )
    # Effective weight (points the component can give after renormalising) and contribution,
    # computed once here so the JSON below only reads columns.
    calc = (
        select(
            sums,
            round2(sums.c.weighted * 100.0 / sums.c.weight_sum).label("computed"),
            *(
                case(
                    (sums.c[f"n_{c.name}"].is_(None), 0.0),
                    else_=c.weight * 100.0 / sums.c.weight_sum,
                ).label(f"w_{c.name}")
                for c in comps
            ),
            *(
                (sums.c[f"n_{c.name}"] * (c.weight * 100.0) / sums.c.weight_sum).label(
                    f"c_{c.name}"
                )
                for c in comps
            ),
        )
        .cte(f"calc_{index}")
        .prefix_with("MATERIALIZED")
    )

    day_start = start_of_day(as_of)
    next_day = start_of_day(as_of + timedelta(days=1))
    if with_overrides:
        # An override counts for the days from its creation until it expires or is revoked.
        active = (
            select(ScoreOverride.account_id, func.max(ScoreOverride.id).label("override_id"))
            .where(
                ScoreOverride.created_at < next_day,
                or_(ScoreOverride.expires_at.is_(None), ScoreOverride.expires_at > day_start),
                or_(ScoreOverride.revoked_at.is_(None), ScoreOverride.revoked_at >= next_day),
            )
            .group_by(ScoreOverride.account_id)
            .subquery(f"active_override_{index}")
        )
        chosen = aliased(ScoreOverride, name=f"chosen_override_{index}")
        scored = (
            select(
                calc,
                active.c.override_id,
                case(
                    (active.c.override_id.is_not(None), chosen.score),
                    else_=calc.c.computed,
                ).label("score"),
            )
            .select_from(calc)
            .outerjoin(active, active.c.account_id == calc.c.id)
            .outerjoin(chosen, chosen.id == active.c.override_id)
            .cte(f"scored_{index}")
        )
    else:
        scored = select(
            calc, literal(None, Integer()).label("override_id"), calc.c.computed.label("score")
        ).cte(f"scored_{index}")

    s = scored.c
    band = case(
        (s.score >= bands.healthy.min, text_value("healthy")),
        (s.score >= bands.at_risk.min, text_value("at_risk")),
        else_=text_value("critical"),
    )
    # The numbers only, four per component in layout order; names and labels are in the layout.
    values: Any = null()
    if layout_id is not None:
        values = float_array(
            *(
                expr
                for c in comps
                for expr in (
                    s[f"r_{c.name}"] * 1.0,
                    s[f"n_{c.name}"],
                    s[f"w_{c.name}"],
                    func.coalesce(s[f"c_{c.name}"], 0.0),
                )
            )
        )
    return (
        select(
            s.id.label("account_id"),
            literal(as_of, Date()).label("as_of"),
            s.score.label("score"),
            s.computed.label("computed_score"),
            band.label("band"),
            literal(layout_id, Integer()).label("layout_id"),
            values.label("component_values"),
            text_value(model.version).label("model_version"),
            s.override_id.label("override_id"),
            literal(False, Boolean()).label("stale"),
            (literal(",".join(stale), Text()) if stale else cast(null(), Text())).label(
                "stale_components"
            ),
            literal(now, UTCDateTime()).label("created_at"),
        )
        .select_from(scored)
        # SQLite needs a WHERE before ON CONFLICT in INSERT .. SELECT (parsing ambiguity).
        .where(true())
    )
