"""``successcrew import``: valid files upsert idempotently, any invalid row rejects the whole file."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from successcrew.errors import ImportRejected, InputError
from successcrew.imports.pipeline import import_file
from successcrew.store.models import (
    Account,
    AuditLog,
    Contact,
    Invoice,
    NpsResponse,
    Ticket,
    UsageDaily,
    UsageEvent,
)
from tests.clirunner import run_cli

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

ACCOUNTS = """external_id,name,segment,plan,arr,owner_email,started_at,churned_at,renewal_date
A1,Acme,smb,pro,12000,owner@vendor.example,2025-01-01,,2026-01-01
A2,Beta Corp,enterprise,enterprise,250000.50,owner@vendor.example,2024-06-01,,
"""
CONTACTS = """external_id,account_external_id,email,name,role,email_opt_out
C1,A1,Ana@acme.example,Ana,admin,false
C2,A1,bo@acme.example,Bo,user,yes
C3,A2,cy@beta.example,,,
"""


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def jsonl(tmp_path: Path, name: str, rows: list[dict[str, Any]]) -> Path:
    return write(tmp_path, name, "".join(json.dumps(r) + "\n" for r in rows))


def count(engine: Engine, model: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every data table, to prove a rejected import changed nothing."""
    tables = (
        "accounts",
        "contacts",
        "usage_events",
        "usage_daily",
        "tickets",
        "invoices",
        "nps_responses",
        "audit_log",
    )
    with engine.connect() as conn:
        return {t: sorted(map(tuple, conn.execute(text(f"SELECT * FROM {t}")))) for t in tables}


@pytest.fixture
def seeded(engine: Engine, tmp_path: Path) -> Engine:
    import_file(engine, "accounts", write(tmp_path, "accounts.csv", ACCOUNTS), now=NOW)
    import_file(engine, "contacts", write(tmp_path, "contacts.csv", CONTACTS), now=NOW)
    return engine


def test_accounts_upsert_by_external_id_and_reimport_changes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    path = write(tmp_path, "accounts.csv", ACCOUNTS)
    first = import_file(engine, "accounts", path, now=NOW)
    assert (first.rows, first.inserted, first.updated, first.unchanged) == (2, 2, 0, 0)
    before = snapshot(engine)
    again = import_file(engine, "accounts", path, now=datetime(2026, 11, 26, tzinfo=UTC))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert snapshot(engine) == before, "re-importing the same file must change nothing"

    changed = write(
        tmp_path, "changed.csv", ACCOUNTS.replace("Acme,smb,pro,12000", "Acme,smb,pro,15000")
    )
    result = import_file(engine, "accounts", changed, now=NOW)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    with engine.connect() as conn:
        arr = conn.execute(select(Account.arr).where(Account.external_id == "A1")).scalar_one()
        renewal = conn.execute(
            select(Account.renewal_date).where(Account.external_id == "A1")
        ).scalar_one()
    assert float(arr) == 15000.0
    assert renewal == date(2026, 1, 1)


def test_absent_column_keeps_stored_values_and_empty_value_clears(
    engine: Engine, tmp_path: Path
) -> None:
    import_file(engine, "accounts", write(tmp_path, "a.csv", ACCOUNTS), now=NOW)
    import_file(
        engine, "accounts", write(tmp_path, "names.csv", "external_id,name\nA1,Acme Inc\n"), now=NOW
    )
    import_file(
        engine,
        "accounts",
        write(tmp_path, "seg.csv", "external_id,name,segment\nA2,Beta Corp,\n"),
        now=NOW,
    )
    with engine.connect() as conn:
        rows = dict(conn.execute(select(Account.external_id, Account.segment)).all())
        name = conn.execute(select(Account.name).where(Account.external_id == "A1")).scalar_one()
    assert name == "Acme Inc"
    assert rows == {"A1": "smb", "A2": None}


def test_contacts_link_to_accounts_and_keep_opt_out(seeded: Engine) -> None:
    with seeded.connect() as conn:
        rows = conn.execute(
            select(Contact.external_id, Contact.email, Contact.email_opt_out, Account.external_id)
            .join(Account, Account.id == Contact.account_id)
            .order_by(Contact.external_id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("C1", "ana@acme.example", False, "A1"),
        ("C2", "bo@acme.example", True, "A1"),
        ("C3", "cy@beta.example", False, "A2"),
    ]


def test_usage_events_roll_up_into_daily_totals_without_double_counting(
    seeded: Engine, tmp_path: Path
) -> None:
    events = [
        {
            "account_external_id": "A1",
            "metric": "logins",
            "value": 1,
            "occurred_at": "2026-11-01T08:00:00Z",
        },
        {
            "account_external_id": "A1",
            "metric": "logins",
            "value": 2,
            "occurred_at": "2026-11-01T23:30:00-02:00",
        },
        {
            "account_external_id": "A1",
            "metric": "logins",
            "value": 4,
            "occurred_at": "2026-11-01T12:00:00",
            "contact_external_id": "C1",
        },
        {"account_external_id": "A2", "metric": "api_calls", "value": 50, "day": "2026-11-01"},
    ]
    path = jsonl(tmp_path, "usage.jsonl", events)
    first = import_file(seeded, "usage", path, now=NOW)
    assert (first.rows, first.inserted) == (4, 4)
    again = import_file(seeded, "usage", path, now=NOW)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    with seeded.connect() as conn:
        daily = conn.execute(
            select(
                Account.external_id,
                UsageDaily.metric,
                UsageDaily.day,
                UsageDaily.value,
                UsageDaily.event_count,
            )
            .join(Account, Account.id == UsageDaily.account_id)
            .order_by(Account.external_id, UsageDaily.day)
        ).all()
    # 23:30 at -02:00 is 01:30 UTC the next day: days are UTC days.
    assert [tuple(r) for r in daily] == [
        ("A1", "logins", date(2026, 11, 1), 5.0, 2),
        ("A1", "logins", date(2026, 11, 2), 2.0, 1),
        ("A2", "api_calls", date(2026, 11, 1), 50.0, 0),
    ]
    assert count(seeded, UsageEvent) == 3


def test_tickets_invoices_and_nps_import(seeded: Engine, tmp_path: Path) -> None:
    tickets = write(
        tmp_path,
        "tickets.csv",
        "external_id,account_external_id,opened_at,closed_at,priority,csat\n"
        "T1,A1,2026-11-01T10:00:00Z,2026-11-02T10:00:00Z,URGENT,2\n"
        "T2,A1,2026-11-03T10:00:00Z,,,\n",
    )
    invoices = write(
        tmp_path,
        "invoices.csv",
        "external_id,account_external_id,amount,due_at,issued_at,paid_at,status\n"
        "I1,A1,1000.00,2026-10-01,2026-09-01,2026-09-20,paid\n"
        "I2,A1,1000,2026-11-01,2026-10-01,,\n",
    )
    nps = write(
        tmp_path,
        "nps.csv",
        "account_external_id,score,responded_at,contact_email,comment,channel\n"
        "A1,9,2026-11-01T10:00:00Z,ana@acme.example,Great support,email\n"
        "A2,3,2026-11-02,,Too slow,in_app\n",
    )
    for kind, path, rows in (("tickets", tickets, 2), ("invoices", invoices, 2), ("nps", nps, 2)):
        result = import_file(seeded, kind, path, now=NOW)
        assert result.inserted == rows
        assert import_file(seeded, kind, path, now=NOW).unchanged == rows
    with seeded.connect() as conn:
        assert conn.execute(
            select(Ticket.priority).order_by(Ticket.external_id)
        ).scalars().all() == ["urgent", "normal"]
        assert conn.execute(
            select(Invoice.status).order_by(Invoice.external_id)
        ).scalars().all() == ["paid", "open"]
        linked = conn.execute(
            select(NpsResponse.score, Contact.external_id)
            .outerjoin(Contact, Contact.id == NpsResponse.contact_id)
            .order_by(NpsResponse.score)
        ).all()
    assert [tuple(r) for r in linked] == [(3, None), (9, "C1")]


REJECTIONS = [
    (
        "nps",
        "nps.csv",
        "account_external_id,score,responded_at\nA1,9,2026-11-01\nA1,11,2026-11-02\nA1,7.5,2026-11-03\n"
        "A1,,2026-11-04\nA9,5,2026-11-05\nA1,5,yesterday\n",
        [
            "line 3, field score: 11 is not between 0 and 10",
            "line 4, field score: '7.5' is not a whole number",
            "line 5, field score: is required but missing",
            "line 6, field account_external_id: unknown account 'A9' (import accounts first)",
            "line 7, field responded_at: 'yesterday' is not a timestamp (expected ISO 8601, e.g. 2025-06-01T14:30:00Z)",
        ],
    ),
    (
        "accounts",
        "accounts.csv",
        "external_id,name,arr,started_at,churned_at\nA5,Five,-3,2025-01-01,\nA6,Six,10,2025-13-01,\n"
        "A7,,10,,\nA8,Eight,10,2025-05-01,2025-04-01\nA4,Four,1,,\nA4,Four again,1,,\n",
        [
            "line 2, field arr: -3 is negative",
            "line 3, field started_at: '2025-13-01' is not a date (expected YYYY-MM-DD)",
            "line 4, field name: is required but missing",
            "line 5, field churned_at: 2025-04-01 is before started_at 2025-05-01",
            "line 7, field external_id: repeats the row on line 6",
        ],
    ),
    (
        "contacts",
        "contacts.csv",
        "external_id,account_external_id,email,email_opt_out\nC9,A1,not-an-email,false\nC8,A1,x@y.example,maybe\n",
        [
            "line 2, field email: 'not-an-email' is not an e-mail address",
            "line 3, field email_opt_out: 'maybe' is not true or false",
        ],
    ),
    (
        "tickets",
        "tickets.csv",
        "external_id,account_external_id,opened_at,closed_at,priority,csat\n"
        "T1,A1,2026-11-02T10:00:00Z,2026-11-01T10:00:00Z,low,3\nT2,A1,2026-11-02,,critical,\nT3,A1,2026-11-02,,low,6\n",
        [
            "line 2, field closed_at: 2026-11-01T10:00:00+00:00 is before opened_at",
            "line 3, field priority: 'critical' is not one of low, normal, high, urgent",
            "line 4, field csat: 6 is not between 1 and 5",
        ],
    ),
    (
        "invoices",
        "invoices.csv",
        "external_id,account_external_id,amount,due_at,status\nI1,A1,12.345,2026-01-01,open\nI2,A1,10,2026-01-01,late\n"
        "I3,A1,10,2026-01-01,paid\n",
        [
            "line 2, field amount: '12.345' has more than two decimals",
            "line 3, field status: 'late' is not one of paid, open, overdue, void",
            "line 4, field paid_at: is empty but status is paid",
        ],
    ),
    (
        "usage",
        "usage.csv",
        "account_external_id,metric,value,day,occurred_at,contact_external_id\n"
        "A1,logins,3,2026-11-01,,\nA1,logins,abc,2026-11-01,,\nA1,logins,1,,,\nA1,logins,1,2026-11-01,2026-11-01T10:00:00Z,\n"
        "A1,logins,4,2026-11-01,,\nA1,logins,1,,2026-11-01T10:00:00Z,C77\n",
        [
            "line 3, field day: repeats the row on line 2",
            "line 3, field value: 'abc' is not a number",
            "line 4, field day: give either day (a daily total) or occurred_at (one event), not neither",
            "line 5, field day: give either day (a daily total) or occurred_at (one event), not both",
            "line 6, field day: repeats the row on line 2",
            "line 7, field contact_external_id: unknown contact 'C77' (import contacts first)",
        ],
    ),
]


@pytest.mark.parametrize(
    ("kind", "name", "content", "expected"), REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
def test_invalid_rows_reject_the_whole_file_with_every_error(
    seeded: Engine, tmp_path: Path, kind: str, name: str, content: str, expected: list[str]
) -> None:
    before = snapshot(seeded)
    with pytest.raises(ImportRejected) as err:
        import_file(seeded, kind, write(tmp_path, name, content), now=NOW)
    assert err.value.errors == expected
    assert snapshot(seeded) == before, "a rejected file must write nothing"


def test_cli_rejection_exits_2_and_lists_errors(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: Engine
) -> None:
    assert run_cli(capsys, "import", "accounts", str(write(tmp_path, "a.csv", ACCOUNTS))).code == 0
    bad = write(tmp_path, "nps.csv", "account_external_id,score,responded_at\nA1,11,2026-11-01\n")
    result = run_cli(capsys, "import", "nps", str(bad))
    assert result.code == 2
    assert f"{bad}: rejected, 1 problem(s) found; nothing was imported." in result.err
    assert "line 2, field score: 11 is not between 0 and 10" in result.err
    assert count(engine, NpsResponse) == 0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "nps.csv",
            "account_external_id,responded_at\nA1,2026-11-01\n",
            "line 1: missing required column(s) score",
        ),
        ("nps.csv", "", "the file is empty; expected a header row"),
        ("nps.xlsx", "whatever", "unknown file type '.xlsx'"),
        (
            "usage.csv",
            "account_external_id,metric,value\nA1,x,1\n",
            "missing required column(s) day or occurred_at",
        ),
    ],
)
def test_unusable_files_are_refused_whole(
    seeded: Engine, tmp_path: Path, name: str, content: str, message: str
) -> None:
    kind = name.split(".")[0]
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_file(seeded, kind, write(tmp_path, name, content), now=NOW)


def test_malformed_lines_are_reported_by_line(seeded: Engine, tmp_path: Path) -> None:
    csv_path = write(
        tmp_path, "nps.csv", "account_external_id,score,responded_at\nA1,9,2026-11-01,extra\n"
    )
    with pytest.raises(ImportRejected) as err:
        import_file(seeded, "nps", csv_path, now=NOW)
    assert err.value.errors == ["line 2: has 4 values but the header has 3 columns"]
    jl = write(
        tmp_path,
        "nps.jsonl",
        '{"account_external_id": "A1", "score": 9, "responded_at": "2026-11-01"}\n{oops\n[1]\n',
    )
    with pytest.raises(ImportRejected) as err:
        import_file(seeded, "nps", jl, now=NOW)
    assert err.value.errors == [
        "line 2: is not valid JSON (Expecting property name enclosed in double quotes at column 2)",
        "line 3: is not a JSON object",
    ]
    assert count(seeded, NpsResponse) == 0


def test_error_list_is_capped_but_counts_everything(seeded: Engine, tmp_path: Path) -> None:
    rows = "".join(f"A1,{11 + i},2026-11-01T10:{i // 60:02}:{i % 60:02}Z\n" for i in range(120))
    with pytest.raises(ImportRejected) as err:
        import_file(
            seeded,
            "nps",
            write(tmp_path, "nps.csv", "account_external_id,score,responded_at\n" + rows),
            now=NOW,
        )
    assert len(err.value.errors) == 50 and err.value.total == 120
    assert "... and 70 more" in str(err.value)


def test_successful_import_is_audited(seeded: Engine) -> None:
    with seeded.connect() as conn:
        actions = conn.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars().all()
    assert actions == ["import.accounts", "import.contacts"]
