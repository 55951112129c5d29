"""Seeded, reproducible synthetic history of a B2B SaaS customer base.

Every account has a hidden churn propensity. Accounts that go on to churn show it first: usage
declines over the weeks before the churn date, tickets pile up and turn urgent, invoices are paid
late or not at all, and NPS answers drop and complain. Healthy accounts wobble now and then, so the
signal is real but not perfect. The ground truth (propensity, churn date) is kept beside the data
so that the health score's power to predict churn can be measured (``successcrew backtest``).

The rows come out in the documented import formats (docs/import-formats.md), so the demo loads
them through the same importer a user runs.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

Row = dict[str, Any]

SEGMENTS = (
    # name, share, plans, ARR range, seats range
    ("smb", 0.55, ("starter", "pro"), (4_000, 30_000), (3, 25)),
    ("mid_market", 0.33, ("pro", "business"), (30_000, 150_000), (20, 120)),
    ("enterprise", 0.12, ("business", "enterprise"), (150_000, 900_000), (100, 600)),
)
METRICS = ("logins", "active_users", "api_calls")
_NAMES_A = (
    "North",
    "Blue",
    "Bright",
    "Iron",
    "Silver",
    "Green",
    "Rapid",
    "Clear",
    "Summit",
    "Harbor",
    "Pixel",
    "Atlas",
    "Nova",
    "Cedar",
    "Vertex",
    "Orbit",
    "Lumen",
    "Delta",
)
_NAMES_B = (
    "Labs",
    "Systems",
    "Works",
    "Logistics",
    "Health",
    "Analytics",
    "Retail",
    "Foods",
    "Capital",
    "Robotics",
    "Media",
    "Energy",
    "Cloud",
    "Studio",
    "Partners",
    "Freight",
)
_PEOPLE = (
    "alex",
    "sam",
    "jordan",
    "taylor",
    "morgan",
    "casey",
    "riley",
    "jamie",
    "drew",
    "kim",
    "lee",
    "robin",
    "noor",
    "ana",
    "li",
    "omar",
    "eva",
    "max",
)
_OWNERS = (
    "maria@vendor.example",
    "tom@vendor.example",
    "priya@vendor.example",
    "lukas@vendor.example",
)
_ROLES = ("admin", "champion", "user", "executive", "billing")

# Comments by sentiment and theme (the taxonomy of config/feedback_categories.yaml).
_COMMENTS: dict[str, tuple[str, ...]] = {
    "praise": (
        "Love the dashboards, the team uses them every day.",
        "Support was fast and friendly, thanks!",
        "Great product, it saves us hours every week.",
        "Onboarding was smooth and the docs are excellent.",
    ),
    "pricing": (
        "The price went up again and we are questioning the value.",
        "Too expensive for what we actually use.",
        "We need a cheaper plan for our smaller teams.",
    ),
    "bugs": (
        "The export keeps failing with an error.",
        "Reports show wrong numbers since the last release.",
        "Sync breaks every few days and we have to restart it.",
    ),
    "performance": (
        "Pages are really slow to load.",
        "The app times out when we open large projects.",
    ),
    "onboarding": (
        "Setting it up took far too long.",
        "New users on our team don't understand where to start.",
    ),
    "support": (
        "Support takes days to answer a ticket.",
        "We were bounced between agents and nobody solved the issue.",
    ),
    "missing_feature": (
        "We really need SSO and audit logs.",
        "Please add a Salesforce integration for our sales team.",
        "Missing an API for bulk updates.",
    ),
    "ux": ("The navigation is confusing.", "Too many clicks to do simple things."),
}


@dataclass(frozen=True)
class Scenario:
    """The incidents written into the last weeks of the history, for the crew to meet.

    Each is a cause in the data, not a flag: a cohort of small accounts leaves in one month (the
    month's logo retention dips), a release breaks reports and the NPS answers after it turn
    negative, the CRM is down for a few days (its API answers 503), and the usage feed stops
    for a few days (an ETL job broke) until its backlog arrives.
    """

    cohort_month: date
    cohort_churned: tuple[str, ...]
    bad_release: date
    crm_outage: tuple[date, ...] = ()
    usage_gap: tuple[date, ...] = ()
    #: The day the usage rows of ``usage_gap`` are delivered (``SyntheticData.usage_backlog``).
    backlog_arrives: date | None = None

    def crm_down(self, day: date) -> bool:
        """Whether the CRM's API is down on ``day``."""
        return day in self.crm_outage

    def bad_release_hurts(self, day: date) -> bool:
        """Whether answers given on ``day`` come after the broken release."""
        return day >= self.bad_release


@dataclass
class SyntheticData:
    """Rows per import kind plus the hidden ground truth."""

    accounts: list[Row] = field(default_factory=list)
    contacts: list[Row] = field(default_factory=list)
    usage: list[Row] = field(default_factory=list)
    tickets: list[Row] = field(default_factory=list)
    invoices: list[Row] = field(default_factory=list)
    nps: list[Row] = field(default_factory=list)
    truth: list[Row] = field(default_factory=list)
    scenario: Scenario | None = None
    #: Usage rows the broken feed delivers late, on ``scenario.backlog_arrives``.
    usage_backlog: list[Row] = field(default_factory=list)

    def kinds(self) -> dict[str, list[Row]]:
        """The importable kinds in dependency order."""
        return {
            "accounts": self.accounts,
            "contacts": self.contacts,
            "usage": self.usage,
            "tickets": self.tickets,
            "invoices": self.invoices,
            "nps": self.nps,
        }


def _decline(day: date, churn: date | None, onset_days: int) -> float:
    """0 while healthy, rising to 1 on the churn date (how far the account has slid)."""
    if churn is None:
        return 0.0
    start = churn - timedelta(days=onset_days)
    if day <= start:
        return 0.0
    return min(1.0, (day - start).days / onset_days)


def generate(
    *,
    seed: int = 7,
    accounts: int = 300,
    end: date = date(2026, 11, 1),
    days: int = 365,
    incidents: bool = True,
) -> SyntheticData:
    """``accounts`` accounts with ``days`` days of history, ending the day before ``end``.

    With ``incidents`` (the demo's default) the history also holds the book-wide events the
    crew's mission meets (a cohort leaving, a broken release); without, only each account's own
    story, which is what measures how well a health model foresees churn.
    """
    rng = random.Random(seed)
    data = SyntheticData()
    history_start = end - timedelta(days=days)
    used_names: set[str] = set()

    for index in range(accounts):
        roll, cumulative = rng.random(), 0.0
        segment = SEGMENTS[-1]
        for candidate in SEGMENTS:
            cumulative += candidate[1]
            if roll < cumulative:
                segment = candidate
                break
        seg_name, _share, plans, (arr_lo, arr_hi), (seats_lo, seats_hi) = segment
        ext = f"ACC-{index + 1:05d}"
        name = f"{rng.choice(_NAMES_A)} {rng.choice(_NAMES_B)}"
        while name in used_names:
            name = f"{name} {rng.randint(2, 99)}"
        used_names.add(name)
        domain = name.lower().replace(" ", "") + ".example"
        size = rng.random()
        arr = round(arr_lo * math.exp(size * math.log(arr_hi / arr_lo)), -2)
        seats = max(1, round(seats_lo + size * (seats_hi - seats_lo) * rng.uniform(0.7, 1.3)))
        plan = plans[1] if size > 0.5 else plans[0]
        started = history_start - timedelta(days=rng.randint(-days // 2, 900))
        if started > end - timedelta(days=45):
            started = end - timedelta(days=45)

        # Hidden propensity: small accounts churn more; most accounts are fine.
        propensity = rng.betavariate(1.4, 5.5) * (1.35 if seg_name == "smb" else 0.8)
        propensity = min(propensity, 0.95)
        monthly_hazard = 0.004 + 0.12 * propensity**1.6
        churn: date | None = None
        month = max(started, history_start) + timedelta(days=rng.randint(0, 29))
        while month < end:
            if rng.random() < monthly_hazard:
                churn = month
                break
            month += timedelta(days=30)
        onset = rng.randint(55, 140)
        # Some healthy accounts have a dip that recovers: realistic false alarms.
        dip_start = (
            history_start + timedelta(days=rng.randint(0, days - 60))
            if churn is None and rng.random() < 0.25 + propensity
            else None
        )
        renewal = started + timedelta(days=365)
        while renewal < end:
            renewal += timedelta(days=365)

        data.accounts.append(
            {
                "external_id": ext,
                "name": name,
                "segment": seg_name,
                "plan": plan,
                "arr": f"{arr:.2f}",
                "owner_email": rng.choice(_OWNERS),
                "started_at": started.isoformat(),
                "churned_at": churn.isoformat() if churn else "",
                "renewal_date": "" if churn else renewal.isoformat(),
            }
        )
        data.truth.append(
            {
                "external_id": ext,
                "propensity": round(propensity, 4),
                "churned_at": churn.isoformat() if churn else "",
                "decline_onset_days": onset if churn else "",
            }
        )

        contacts = []
        for c in range(rng.randint(2, 5)):
            person = rng.choice(_PEOPLE)
            contact = {
                "external_id": f"{ext}-C{c + 1}",
                "account_external_id": ext,
                "email": f"{person}{c + 1}@{domain}",
                "name": person.title(),
                "role": _ROLES[c] if c < len(_ROLES) else "user",
                "email_opt_out": "true" if rng.random() < 0.05 else "false",
            }
            contacts.append(contact)
        data.contacts.extend(contacts)

        first = max(started, history_start)
        last = min(churn - timedelta(days=1) if churn else end, end - timedelta(days=1))
        engagement = rng.uniform(0.45, 0.85) * (1 - 0.35 * propensity)
        day = first
        while day <= last:
            slide = _decline(day, churn, onset)
            dip = 0.0
            if dip_start and dip_start <= day < dip_start + timedelta(days=35):
                dip = 0.45
            weekday = day.weekday() < 5
            level = engagement * (1 - 0.85 * slide) * (1 - dip) * (1.0 if weekday else 0.25)
            active = max(0, round(seats * level * rng.uniform(0.8, 1.2)))
            if active:
                values = {
                    "logins": round(active * rng.uniform(1.2, 2.5)),
                    "active_users": active,
                    "api_calls": round(active * rng.uniform(10, 60) * (1 if size > 0.3 else 0.2)),
                }
                for metric in METRICS:
                    if values[metric] > 0:
                        data.usage.append(
                            {
                                "account_external_id": ext,
                                "metric": metric,
                                "value": values[metric],
                                "day": day.isoformat(),
                            }
                        )

            # Tickets: more and angrier as the account slides.
            rate = 0.012 * math.sqrt(seats) * (1 + 4 * slide + 2 * dip)
            if rng.random() < rate:
                priority = rng.choices(
                    ("low", "normal", "high", "urgent"),
                    weights=(3, 5, 1 + 6 * slide, 0.3 + 4 * slide),
                )[0]
                opened = datetime.combine(day, time(rng.randint(8, 18), rng.randint(0, 59)))
                resolution = timedelta(hours=rng.randint(2, 24 * (3 + int(10 * slide))))
                closed = opened + resolution
                is_closed = closed.date() < end
                data.tickets.append(
                    {
                        "external_id": f"T-{ext}-{len(data.tickets) + 1}",
                        "account_external_id": ext,
                        "opened_at": opened.isoformat() + "Z",
                        "closed_at": (closed.isoformat() + "Z") if is_closed else "",
                        "priority": priority,
                        "csat": (
                            max(1, min(5, round(4.5 - 3 * slide + rng.uniform(-1, 0.5))))
                            if is_closed and rng.random() < 0.6
                            else ""
                        ),
                    }
                )
            day += timedelta(days=1)

        # Monthly invoices, due 30 days after issue; late or unpaid as the account slides.
        issue = first.replace(day=1)
        while issue < min(churn or end, end):
            due = issue + timedelta(days=30)
            slide = _decline(issue, churn, onset)
            late_days = 0
            if rng.random() < 0.08 + 0.8 * slide:
                late_days = rng.randint(10, 60)
            paid = due + timedelta(days=late_days - rng.randint(0, 10))
            unpaid = paid >= end or (churn is not None and paid >= churn and slide > 0.5)
            status = "paid" if not unpaid else ("overdue" if due < end else "open")
            data.invoices.append(
                {
                    "external_id": f"INV-{ext}-{issue:%Y%m}",
                    "account_external_id": ext,
                    "amount": f"{arr / 12:.2f}",
                    "due_at": due.isoformat(),
                    "issued_at": issue.isoformat(),
                    "paid_at": "" if unpaid else paid.isoformat(),
                    "status": status,
                }
            )
            month_ = issue.month % 12 + 1
            issue = issue.replace(year=issue.year + (issue.month == 12), month=month_)

        # NPS: each contact answers roughly every quarter, when the account is around.
        for contact in contacts:
            when = first + timedelta(days=rng.randint(5, 90))
            while when < min(churn or end, end):
                if rng.random() < 0.55:
                    slide = _decline(when, churn, onset)
                    base = 9.2 - 7.5 * slide - 4 * propensity + rng.gauss(0, 1.3)
                    score = max(0, min(10, round(base)))
                    theme = (
                        "praise"
                        if score >= 9
                        else rng.choice([k for k in _COMMENTS if k != "praise"])
                    )
                    comment = rng.choice(_COMMENTS[theme]) if rng.random() < 0.6 else ""
                    responded = datetime.combine(when, time(rng.randint(7, 20), rng.randint(0, 59)))
                    data.nps.append(
                        {
                            "external_id": f"NPS-{contact['external_id']}-{when:%Y%m%d}",
                            "account_external_id": ext,
                            "score": score,
                            "responded_at": responded.isoformat() + "Z",
                            "contact_email": contact["email"],
                            "comment": comment,
                            "channel": rng.choice(("email", "in_app")),
                        }
                    )
                when += timedelta(days=rng.randint(80, 100))
    # A separate stream, so the incidents leave the rest of the history as it was.
    if incidents:
        data.scenario = _add_incidents(data, random.Random(seed * 7919 + 13), end)
    return data


#: The broken release ships this long before the history ends: after the crew's programs have
#: sent their first e-mails (day 25 of the setup and the steps' delays) and with the first NPS
#: wave (day 28) answering after it.
RELEASE_BEFORE_END = timedelta(days=18)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _add_incidents(data: SyntheticData, rng: random.Random, end: date) -> Scenario:
    """Write the scenario's incidents into ``data`` (the crew's first day is 45 days before
    ``end``): the cohort leaves in the month the crew starts, so the crew's first evaluation in
    the next month reads a retention dip; the release breaks reports 18 days before ``end``."""
    month = _month_start(end - timedelta(days=45))
    next_month = _month_start(month + timedelta(days=32))
    smb_active = [
        a
        for a in data.accounts
        if a["segment"] == "smb"
        and not a["churned_at"]
        and date.fromisoformat(a["started_at"]) < month - timedelta(days=90)
    ]
    active = sum(
        1
        for a in data.accounts
        if date.fromisoformat(a["started_at"]) <= month
        and (not a["churned_at"] or date.fromisoformat(a["churned_at"]) > month)
    )
    # 17 % of the book in one month: well below the 85 % one-month target.
    leaving = rng.sample(smb_active, min(len(smb_active), math.ceil(0.17 * active)))
    last_day = (next_month - timedelta(days=1)).day
    churn_on = {
        a["external_id"]: month + timedelta(days=rng.randint(1, min(last_day, 28) - 1))
        for a in leaving
    }
    for account in leaving:
        churn = churn_on[account["external_id"]]
        account["churned_at"], account["renewal_date"] = churn.isoformat(), ""
    for truth in data.truth:
        if truth["external_id"] in churn_on:
            truth["churned_at"] = churn_on[truth["external_id"]].isoformat()
            truth["decline_onset_days"] = 21

    def before_churn(row: Row, when: str) -> bool:
        churn = churn_on.get(row["account_external_id"])
        return churn is None or date.fromisoformat(when[:10]) < churn

    kept_usage = []
    for row in data.usage:
        churn = churn_on.get(row["account_external_id"])
        if churn is None:
            kept_usage.append(row)
            continue
        left = (churn - date.fromisoformat(row["day"])).days
        if left <= 0:
            continue
        # Usage fades over the three weeks before they leave: the decline shows first.
        value = round(row["value"] * min(1.0, left / 21))
        if value > 0:
            kept_usage.append({**row, "value": value})
    data.usage = kept_usage
    data.tickets = [r for r in data.tickets if before_churn(r, r["opened_at"])]
    data.invoices = [r for r in data.invoices if before_churn(r, r["issued_at"])]
    data.nps = [r for r in data.nps if before_churn(r, r["responded_at"])]

    # The broken release: most answers after it are detractors, and they say why.
    release = end - RELEASE_BEFORE_END
    for row in data.nps:
        if date.fromisoformat(row["responded_at"][:10]) >= release and rng.random() < 0.8:
            row["score"] = max(0, min(int(row["score"]) - 5, 6))
            row["comment"] = rng.choice(_COMMENTS["bugs"])

    # The CRM's API is down for three days after the crew's first sync (day 7).
    crm_outage = tuple(end - timedelta(days=n) for n in (33, 32, 31))
    # The usage ETL breaks: five days of usage arrive late, all at once, the day after.
    gap = tuple(end - timedelta(days=n) for n in range(29, 24, -1))
    late = {d.isoformat() for d in gap}
    data.usage_backlog = [r for r in data.usage if r["day"] in late]
    data.usage = [r for r in data.usage if r["day"] not in late]
    return Scenario(
        cohort_month=month,
        cohort_churned=tuple(sorted(churn_on)),
        bad_release=release,
        crm_outage=crm_outage,
        usage_gap=gap,
        backlog_arrives=gap[-1] + timedelta(days=1),
    )


_COLUMNS = {
    "accounts": (
        "external_id",
        "name",
        "segment",
        "plan",
        "arr",
        "owner_email",
        "started_at",
        "churned_at",
        "renewal_date",
    ),
    "contacts": ("external_id", "account_external_id", "email", "name", "role", "email_opt_out"),
    "usage": ("account_external_id", "metric", "value", "day"),
    "tickets": ("external_id", "account_external_id", "opened_at", "closed_at", "priority", "csat"),
    "invoices": (
        "external_id",
        "account_external_id",
        "amount",
        "due_at",
        "issued_at",
        "paid_at",
        "status",
    ),
    "nps": (
        "external_id",
        "account_external_id",
        "score",
        "responded_at",
        "contact_email",
        "comment",
        "channel",
    ),
    "truth": ("external_id", "propensity", "churned_at", "decline_onset_days"),
}


def write_csv(data: SyntheticData, out_dir: Path) -> dict[str, Path]:
    """Write one CSV per kind (and ``ground_truth.csv``) into ``out_dir``; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for kind, rows in [*data.kinds().items(), ("truth", data.truth)]:
        path = out_dir / ("ground_truth.csv" if kind == "truth" else f"{kind}.csv")
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=_COLUMNS[kind])
            writer.writeheader()
            writer.writerows(rows)
        paths[kind] = path
    if data.usage_backlog:
        path = out_dir / "usage_backlog.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=_COLUMNS["usage"])
            writer.writeheader()
            writer.writerows(data.usage_backlog)
        paths["usage_backlog"] = path
    return paths
