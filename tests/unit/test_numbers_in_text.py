"""Numbers in the text people read (the command line, the weekly report) are written one way:
thousands separated, rates in percent, changes with their sign; the report uses the same
helpers as every command."""

from __future__ import annotations

from successcrew import numbers
from successcrew.domain.metrics import NpsFigures, nps_gate
from successcrew.services.voice.report import _environment


def test_rates_changes_and_measures_as_people_write_them() -> None:
    assert numbers.rate(0.123) == "12.3 %" and numbers.rate(None) == "-"
    assert numbers.points(0.0456) == "+4.6 pts" and numbers.points(-0.01) == "-1.0 pts"
    assert numbers.signed(25.0) == "+25.0" and numbers.signed(None, missing="no data") == "no data"
    assert [numbers.measure(v) for v in (7650.0, 12.5, 0.1234, None)] == [
        "7,650",
        "12.5",
        "0.123",
        "-",
    ]
    assert numbers.decimal(0.73456, 3) == "0.735"


def test_the_weekly_report_writes_numbers_with_the_same_helpers() -> None:
    template = _environment().from_string(
        "{{ 7650 | count }} accounts; {{ 12.34 | pct }}; {{ 0.123 | rate }}; "
        "{{ 0.0456 | pts }}; NPS {{ 25 | signed }}; mean {{ none | score }}"
    )
    assert template.render() == ("7,650 accounts; 12.3 %; 12.3 %; +4.6 pts; NPS +25.0; mean -")


def test_the_nps_gate_counts_answers_with_thousands_separated() -> None:
    from datetime import date

    figures = NpsFigures(date(2026, 11, 20), 90, None, 7650, 4000, 2000, 1650)
    detail = nps_gate(figures, 0.0).detail
    assert (
        "+30.7 from 7,650 responses (4,000 promoters, 2,000 passives, 1,650 detractors)" in detail
    )
