"""Honest results on SQLite and PostgreSQL: A/B figures, the `programs` listing and the report's
"What worked" count only the enrolments a program actually reached; a comment theme's tone is
its comments counted, not averaged."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, insert, select

from successcrew.definitions.feedback_categories import load_taxonomy
from successcrew.definitions.playbooks import load_playbooks, load_program_settings
from successcrew.definitions.thresholds import load_thresholds
from successcrew.domain.program_rules import HOLDOUT
from successcrew.integrations.dispatcher import dispatch
from successcrew.integrations.http import HttpPolicy
from successcrew.services.programs import results as program_results
from successcrew.services.programs.runs import run_programs
from successcrew.services.voice.feedback import categorise_responses
from successcrew.services.voice.report import collect, generate_report
from successcrew.store.db import transaction
from successcrew.store.models import NpsResponse, ProgramEnrolment
from tests.clirunner import run_cli
from tests.integration.outbox_helpers import make_settings
from tests.integration.test_programs import NOW, add_accounts, snapshot

AT_RISK = next(b for b in load_playbooks() if b.id == "at_risk")
LATER = NOW + timedelta(days=AT_RISK.spec.outcome.days + 2)


def enrol(engine: Engine, accounts: range, when: timedelta = timedelta(0)) -> None:
    """These accounts fall into At-Risk and the shipped at-risk program enrols them."""
    for a in accounts:
        snapshot(engine, a, (NOW + when).date(), "at_risk")
    with transaction(engine) as s:
        run_programs(
            s,
            [AT_RISK],
            settings=load_program_settings(),
            threshold_pct=10,
            base_url="https://cs.example",
            link_secret="test-link-secret",
            now=NOW + when,
        )


def treated(engine: Engine, accounts: range) -> set[int]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                select(ProgramEnrolment.account_id).where(
                    ProgramEnrolment.variant != HOLDOUT,
                    ProgramEnrolment.account_id.in_(list(accounts)),
                )
            ).scalars()
        )


def recover(engine: Engine, accounts: set[int]) -> None:
    """These accounts are Healthy ten days later, whatever the program did."""
    for a in accounts:
        snapshot(engine, a, (NOW + timedelta(days=10)).date(), "healthy")


def test_a_program_whose_sends_were_all_held_shows_no_treatment_delivered(
    engine: Engine,
    env: dict[str, str],
    fast_policy: HttpPolicy,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # No e-mail provider configured: every check-in e-mail stays in the outbox, held.
    add_accounts(engine, 40)
    enrol(engine, range(1, 41))
    summary = dispatch(engine, make_settings(), load_thresholds(), NOW, policy=fast_policy)
    reached_none = treated(engine, range(1, 41))
    assert summary.held == len(reached_none) and summary.delivered == 0
    # Every account recovers on its own: before, this read as the program's success.
    recover(engine, set(range(1, 41)))

    with transaction(engine) as s:
        result = program_results.evaluate(s, AT_RISK, now=LATER)
    assert not result.treatment_delivered
    assert (result.enrolled, result.reached) == (len(reached_none), 0)
    assert result.recovered_after_treatment == 0
    assert result.messages["held"] == len(reached_none) and result.messages["delivered"] == 0
    assert result.held_reason is not None and "outbox only" in result.held_reason
    for c in result.comparisons:
        assert c.verdict == "no treatment delivered"
        assert c.variant.rate is None and c.uplift is None and c.p_value is None
    assert sum(c.variant.not_reached for c in result.comparisons) == len(reached_none)

    listing = run_cli(capsys, "programs", "--now", LATER.isoformat())
    assert listing.code == 0, listing.err
    # One record may wrap in a narrow terminal: compare words, not line breaks.
    at_risk = " ".join(listing.out.split()).split(" critical ")[0]
    assert (
        f"no treatment delivered: {len(reached_none)} enrolled for treatment, none reached "
        f"(messages: {len(reached_none)} held; held because no SUCCESSCREW_SENDGRID_API_KEY"
    ) in at_risk
    assert "%" not in at_risk.split("value_recap;")[1]  # no rate for this program

    out = tmp_path / "report"
    generate_report(engine, out, LATER)
    document = json.loads((out / "report.json").read_text())
    assert any(
        line.startswith("At-risk recovery: no treatment delivered.")
        for line in document["what_worked"]
    )
    assert not any(
        "At-risk recovery" in line and "recovered" in line for line in document["what_worked"]
    )
    section = (out / "report.md").read_text().split("### At-risk recovery")[1].split("###")[0]
    assert (
        f"**No treatment delivered**: {len(reached_none)} accounts enrolled for treatment, none reached"
        in (section)
    )
    assert "| variant |" not in section  # no table of rates or verdicts
    html = (out / "report.html").read_text()
    assert "<strong>No treatment delivered</strong>" in html


def test_mixed_delivery_counts_only_the_enrolments_reached(
    engine: Engine, server: HTTPServer, fast_policy: HttpPolicy
) -> None:
    # The first 20 accounts are e-mailed while SendGrid is configured; the key is then removed
    # and the next 20 accounts' e-mails stay held.
    server.expect_request("/v3/mail/send", method="POST").respond_with_data(
        "", status=202, headers={"X-Message-Id": "sg-1"}
    )
    live = make_settings(sendgrid_api_key="SG.key", sendgrid_api_url=server.url_for(""))
    add_accounts(engine, 40)
    enrol(engine, range(1, 21))
    first = dispatch(engine, live, load_thresholds(), NOW, policy=fast_policy)
    enrol(engine, range(21, 41), timedelta(days=1))
    second = dispatch(
        engine, make_settings(), load_thresholds(), NOW + timedelta(days=1), policy=fast_policy
    )
    reached, never = treated(engine, range(1, 21)), treated(engine, range(21, 41))
    assert first.delivered == len(reached) and second.held == len(never)
    # Odd accounts recover; of the reached ones only those count as the program's successes.
    odd = set(range(1, 41, 2))
    recover(engine, odd)

    with transaction(engine) as s:
        result = program_results.evaluate(s, AT_RISK, now=LATER)
    assert result.treatment_delivered
    assert (result.enrolled, result.reached, result.not_reached) == (
        len(reached) + len(never),
        len(reached),
        len(never),
    )
    variants = [c.variant for c in result.comparisons]
    assert sum(v.n for v in variants) == len(reached)
    assert sum(v.successes for v in variants) == len(reached & odd)
    assert sum(v.not_reached for v in variants) == len(never)
    assert result.messages == {
        "delivered": len(reached),
        "held": len(never),
        "waiting": 0,
        "dead": 0,
    }
    what_worked = collect(engine, LATER)["what_worked"]
    assert (
        f"At-risk recovery: {len(never)} of {len(reached) + len(never)} accounts enrolled for "
        "treatment were never reached (their messages were not delivered) and are not counted."
    ) in what_worked


#: Support complaints: three plainly unhappy, two wrapped in thanks and warm words. Averaged,
#: the warm two outweigh the rest and the theme read "tone positive".
SUPPORT_COMPLAINTS = (
    "Support keeps us waiting, not good.",
    "The support queue is a problem for us.",
    "Support answers late, sadly.",
    "Thank you for the kind support agent, but please answer tickets faster, we really "
    "appreciate it!",
    "Thanks, we love your product and your support team is lovely and helpful, but every "
    "ticket waits a week.",
)


def test_a_theme_of_complaints_with_a_few_polite_words_is_not_positive(
    engine: Engine, tmp_path: Path
) -> None:
    add_accounts(engine, 5)
    with transaction(engine) as s:
        s.execute(
            insert(NpsResponse),
            [
                {
                    "natural_key": f"k{i}",
                    "account_id": i,
                    "score": 4,
                    "comment": text,
                    "responded_at": NOW - timedelta(days=i),
                }
                for i, text in enumerate(SUPPORT_COMPLAINTS, start=1)
            ],
        )
    with transaction(engine) as s:
        categorise_responses(s, load_taxonomy().categoriser())
    with engine.connect() as conn:
        scores = conn.execute(select(NpsResponse.sentiment)).scalars().all()
    assert sum(scores) / len(scores) > 0.05  # the mean alone would call this theme positive

    out = tmp_path / "report"
    generate_report(engine, out, NOW)
    support = next(
        t for t in json.loads((out / "report.json").read_text())["themes"] if t["name"] == "support"
    )
    assert (support["tone"], support["negative"], support["positive"]) == ("negative", 3, 2)
    heading = "Support: 5 comments (100 %), tone negative (3 negative 60 %, 2 positive 40 %)"
    assert f"### {heading}" in (out / "report.md").read_text()
    assert f"<h3>{heading}</h3>" in (out / "report.html").read_text()
