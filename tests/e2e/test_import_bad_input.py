"""``successcrew import`` refuses what the database cannot hold, or would hold wrongly: NUL and
control characters, bytes that are not UTF-8 (on the line they are on), fields over the size
limit, unknown columns; every problem of a file in one pass; exit 2 and not one row written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from successcrew.imports.fields import MAX_FIELD_CHARS
from successcrew.store.models import Account
from tests.clirunner import run_cli
from tests.rowcounts import row_counts

BIG = b"x" * (MAX_FIELD_CHARS + 1)

# (id, kind, file name, content, extra arguments, what stderr says)
CASES = [
    (
        "nul-in-csv",
        "accounts",
        "a.csv",
        b"external_id,name\nu1,U\nu2,Nul\x00Corp\n",
        (),
        ["line 3, field name: contains a NUL character (byte 0x00) at character 4"],
    ),
    (
        "nul-escaped-in-jsonl",
        "accounts",
        "a.jsonl",
        b'{"external_id": "u1", "name": "A\\u0000B"}\n',
        (),
        ["line 1, field name: contains a NUL character (byte 0x00) at character 2"],
    ),
    (
        "control-character",
        "nps",
        "n.csv",
        b"account_external_id,score,responded_at,comment\nA1,9,2026-11-01,ring\x07ring\n",
        (),
        ["line 2, field comment: contains the control character U+0007 at character 5"],
    ),
    (
        "not-utf8-on-line-3",
        "accounts",
        "a.csv",
        b"external_id,name\nu1,U\nu2,Bad\xffCorp\n",
        (),
        [
            "line 3, field name: is not UTF-8 text (byte 0xff at character 4); save the file as UTF-8"
        ],
    ),
    (
        "not-utf8-far-down-a-long-file",
        "accounts",
        "a.csv",
        b"external_id,name\n" + b"".join(b"u%d,U\n" % i for i in range(5000)) + b"u,\xe9t\xe9\n",
        (),
        ["line 5002, field name: is not UTF-8 text (byte 0xe9 at character 1)"],
    ),
    (
        "not-utf8-in-jsonl",
        "accounts",
        "a.jsonl",
        b'{"external_id": "u1", "name": "ok"}\n{"external_id": "u2", "name": "\xff"}\n',
        (),
        ["line 2, field name: is not UTF-8 text (byte 0xff at character 1)"],
    ),
    (
        "field-over-the-limit-in-csv",
        "accounts",
        "a.csv",
        b"external_id,name,segment\nu1,U,s\nu2," + BIG + b",s\n",
        (),
        [
            "line 3, field name: is longer than 1,048,576 characters, the limit for one field; "
            "nothing was imported"
        ],
    ),
    (
        "unclosed-quote-swallowing-the-file",
        "accounts",
        "a.csv",
        b'external_id,name\nu1,"U\n' + b"u2,V\n" * (MAX_FIELD_CHARS // 5 + 1),
        (),
        [
            "line 2, field name: is longer than 1,048,576 characters",
            "a quote that opens a field and never closes makes the rest of the file one field",
        ],
    ),
    (
        "field-over-the-limit-in-jsonl",
        "accounts",
        "a.jsonl",
        b'{"external_id": "u1", "name": "' + BIG + b'"}\n',
        (),
        ["line 1, field name: is 1,048,577 characters long; the limit for one field is 1,048,576"],
    ),
    (
        "unknown-csv-columns",
        "accounts",
        "a.csv",
        b"external_id,name,Colour,size\nu1,U,red,1\n",
        (),
        [
            "line 1: unknown column(s) 'colour', 'size' (the columns of accounts files are arr, ",
            "leave them out with --ignore-column colour --ignore-column size",
        ],
    ),
    (
        "unknown-jsonl-key-named-once",
        "accounts",
        "a.jsonl",
        b'{"external_id": "u1", "name": "U"}\n{"external_id": "u2", "name": "V", "colour": 1}\n'
        b'{"external_id": "u3", "name": "W", "colour": 2}\n',
        (),
        ["1 problem(s) found", "line 2: unknown column(s) 'colour'"],
    ),
    (
        "ignore-column-naming-a-known-one",
        "accounts",
        "a.csv",
        b"external_id,name\nu1,U\n",
        ("--ignore-column", "Name"),
        [
            "--ignore-column 'name': a column of accounts files; --ignore-column only leaves out "
            "columns successcrew does not read"
        ],
    ),
    (
        "every-problem-in-one-pass",
        "accounts",
        "a.csv",
        b"external_id,name,arr,started_at,churned_at,colour\n"
        b"A5,,-3,2025-05-01,2025-04-01,red\n"
        b"A5,Five,lots,,,red\n"
        b"A6,Six\x00,1,2025-13-01,2025-01-01,red\n",
        (),
        [
            "rejected, 8 problem(s) found",
            "line 1: unknown column(s) 'colour'",
            "line 2, field arr: -3 is negative",
            "line 2, field churned_at: 2025-04-01 is before started_at 2025-05-01",
            "line 2, field name: is required but missing",
            "line 3, field arr: 'lots' is not a number",
            "line 3, field external_id: repeats the row on line 2",
            "line 4, field name: contains a NUL character",
            # started_at did not parse, so no claim is made about its order with churned_at.
            "line 4, field started_at: '2025-13-01' is not a date",
        ],
    ),
    (
        "problems-and-unknown-references-in-one-pass",
        "nps",
        "n.csv",
        b"account_external_id,score,responded_at\nA9,11,2026-11-01\nA1,5,2026-11-01\n"
        b"A1,3,2026-11-01\n",
        (),
        [
            "rejected, 3 problem(s) found",
            "line 2, field account_external_id: unknown account 'A9' (import accounts first)",
            "line 2, field score: 11 is not between 0 and 10",
            "line 4, field responded_at: repeats the row on line 3",
        ],
    ),
]


@pytest.fixture
def seeded(env: dict[str, str], engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    accounts = tmp_path / "seed.csv"
    accounts.write_text("external_id,name\nA1,Acme\n", encoding="utf-8")
    assert run_cli(capsys, "import", "accounts", str(accounts)).code == 0
    return engine


@pytest.mark.parametrize(
    ("kind", "name", "content", "args", "messages"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_input_is_refused_whole_with_line_and_field(
    seeded: Engine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    name: str,
    content: bytes,
    args: tuple[str, ...],
    messages: list[str],
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    before = row_counts(seeded)
    result = run_cli(capsys, "import", kind, str(path), *args)
    assert result.code == 2, result.err
    for message in messages:
        assert message in result.err
    assert "Traceback" not in result.err
    assert row_counts(seeded) == before


def test_ignore_column_leaves_an_unknown_column_out(
    seeded: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.csv"
    path.write_text("external_id,name,Colour,size\nu1,U,red,1\n", encoding="utf-8")
    result = run_cli(
        capsys,
        "import",
        "accounts",
        str(path),
        "--ignore-column",
        "colour",
        "--ignore-column",
        "size",
    )
    assert result.code == 0, result.err
    with seeded.connect() as conn:
        assert conn.execute(select(Account.name).where(Account.external_id == "u1")).scalar() == "U"
