"""``successcrew serve`` as a real process on a loopback port, on SQLite and PostgreSQL: survey
links, one-click unsubscribe, the SendGrid and Mandrill webhooks, Slack buttons, Segment-style
product events, the in-app survey API, /healthz and /metrics. Requests are signed the way the
providers sign them, and forged; every refusal is shown to change nothing.

One server per database for the whole module (starting one costs about two seconds).
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, func, insert, select

from successcrew.definitions.playbooks import SurveySettings
from successcrew.definitions.thresholds import load_thresholds
from successcrew.domain.survey_tokens import SurveyClaims, sign_survey_token
from successcrew.integrations.dispatcher import dispatch
from successcrew.paths import definition_path
from successcrew.services.escalations.lifecycle import send as send_escalation
from successcrew.services.messaging.links import unsubscribe_url
from successcrew.services.voice.surveys import run_wave
from successcrew.settings import Settings
from successcrew.store.db import make_engine, transaction
from successcrew.store.models import (
    Account,
    AuditLog,
    CampaignFeedback,
    Contact,
    CrewRun,
    EmailEvent,
    EmailSuppression,
    Escalation,
    NpsResponse,
    OutboxMessage,
    ProgramEmail,
    ProgramEnrolment,
    SurveyInvitation,
    UsageDaily,
    UsageEvent,
)
from tests.fakes.slack import FakeSlack
from tests.serving import Served, base_env, free_port, module_database, start_serve, stop_serve
from tests.signing import mandrill_signature, sendgrid_headers, sendgrid_keypair, slack_headers

pytestmark = pytest.mark.xdist_group("serve")

LINK_SECRET = "link-secret-for-the-serve-tests"
SLACK_SECRET = "slack-signing-secret-for-tests"
MANDRILL_KEY = "mandrill-webhook-key-for-tests"
WRITE_KEY = "segment-write-key-for-tests"
IN_APP_SECRET = "in-app-identity-secret"
ORIGIN = "https://app.example.com"
CHAIR = "U0CHAIR1"
SLACK_TOKEN = "xoxb-test-token"
RATE = 5


@dataclass
class World:
    """The running server, its database and the stand-ins it talks to."""

    served: Served
    engine: Engine
    slack: FakeSlack
    sendgrid_key: Any
    settings: Settings
    http: httpx.Client
    #: Writes start BEGIN IMMEDIATE on SQLite (they wait for the server's writes); reads
    #: through ``engine`` never take the write lock, so they may nest.
    writer: Engine
    secrets_seen: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.served.base


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    folder = tmp_path_factory.mktemp(f"serve-{request.param}")
    template = request.getfixturevalue("sqlite_template") if request.param == "sqlite" else None
    slack_server = HTTPServer(host="127.0.0.1", port=0)
    slack_server.start()
    slack = FakeSlack(slack_server, SLACK_TOKEN)
    project = folder / "project" / "config"
    project.mkdir(parents=True)
    policy = definition_path("config", "escalation.yaml").read_text()
    (project / "escalation.yaml").write_text(policy.replace("deciders: []", f"deciders: [{CHAIR}]"))
    private, public = sendgrid_keypair()
    port = free_port()
    with module_database(request.param, folder, template) as db_url:
        settings = Settings(
            database_url=db_url,
            slack_token=SLACK_TOKEN,
            slack_api_url=slack.url,
            slack_chairman_channel="#chairman",
            survey_secret=LINK_SECRET,
            public_base_url=f"http://127.0.0.1:{port}",
        )
        env = base_env(
            db_url,
            SUCCESSCREW_PROJECT_DIR=str(folder / "project"),
            SUCCESSCREW_SURVEY_SECRET=LINK_SECRET,
            SUCCESSCREW_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
            SUCCESSCREW_SENDGRID_WEBHOOK_PUBLIC_KEY=public,
            SUCCESSCREW_MAILCHIMP_WEBHOOK_KEY=MANDRILL_KEY,
            SUCCESSCREW_SEGMENT_WRITE_KEY=WRITE_KEY,
            SUCCESSCREW_SLACK_SIGNING_SECRET=SLACK_SECRET,
            SUCCESSCREW_SLACK_TOKEN=SLACK_TOKEN,
            SUCCESSCREW_SLACK_API_URL=slack.url,
            SUCCESSCREW_SURVEY_ALLOWED_ORIGINS=ORIGIN,
            SUCCESSCREW_IN_APP_SECRET=IN_APP_SECRET,
            SUCCESSCREW_IN_APP_RATE_PER_MINUTE=str(RATE),
            SUCCESSCREW_WEBHOOK_MAX_BODY_BYTES=str(256 * 1024),
            # The tests connect from 127.0.0.1, which is then not a trusted proxy.
            SUCCESSCREW_TRUSTED_PROXIES="10.9.9.9",
        )
        served = start_serve(env, folder, port=port)
        engine = make_engine(db_url)
        writer = make_engine(db_url, immediate=True)
        try:
            with httpx.Client(base_url=served.base, follow_redirects=False, timeout=10) as http:
                yield World(served, engine, slack, private, settings, http, writer)
        finally:
            code = stop_serve(served)
            engine.dispose()
            writer.dispose()
            slack_server.stop()
        assert code in (0, -15), served.log()


NOW = datetime.now(UTC)


def seed(world: World, contacts: int = 3, *, consent: bool = True) -> tuple[int, list[int]]:
    """One account with ``contacts`` contacts (unique ids per call); returns their ids."""
    tag = uuid.uuid4().hex[:8]
    with transaction(world.writer) as s:
        account = s.execute(
            insert(Account)
            .values(external_id=f"A-{tag}", name=f"Acme {tag}", created_at=NOW, updated_at=NOW)
            .returning(Account.id)
        ).scalar_one()
        ids = [
            s.execute(
                insert(Contact)
                .values(
                    external_id=f"C-{tag}-{i}",
                    account_id=account,
                    email=f"p{i}.{tag}@customer.example",
                    name=f"Person {i}",
                    survey_consent=consent,
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(Contact.id)
            ).scalar_one()
            for i in range(contacts)
        ]
    return account, ids


def survey_tokens(world: World, account_id: int, channel: str = "email") -> dict[int, str]:
    """Run a real survey wave; the token of each invited contact of ``account_id``."""
    with transaction(world.writer) as s:
        run_wave(
            s,
            settings=SurveySettings(max_per_account=10),
            secret=LINK_SECRET,
            base_url=world.base,
            now=NOW - timedelta(minutes=1),
            channel=channel,
        )
        rows = s.execute(
            select(SurveyInvitation).where(SurveyInvitation.account_id == account_id)
        ).scalars()
        return {
            r.contact_id: sign_survey_token(
                SurveyClaims(r.nonce, r.contact_id, r.account_id, r.kind, r.expires_at),
                LINK_SECRET,
            )
            for r in rows
        }


def count(world: World, model: Any, *where: Any) -> int:
    with world.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


# --- surveys ---------------------------------------------------------------------------------


def test_survey_link_get_renders_post_records_once_and_bad_links_say_why(world: World) -> None:
    account, contacts = seed(world, 1)
    token = survey_tokens(world, account)[contacts[0]]
    world.secrets_seen.append(token)
    with world.engine.connect() as conn:
        payload = conn.execute(
            select(OutboxMessage.payload).where(OutboxMessage.account_id == account)
        ).scalar_one()
    # The e-mail shows the scale as eleven links, and carries the one-click unsubscribe link.
    for score in range(11):
        assert f"{world.base}/survey/{token}?score={score}" in payload["html"]
    assert payload["unsubscribe_url"].startswith(f"{world.base}/unsubscribe/")

    client = world.http
    page = client.get(f"/survey/{token}", params={"score": 9})
    assert page.status_code == 200
    assert 'name="viewport"' in page.text and 'value="9" checked' in page.text
    assert "<script" not in page.text  # works without JavaScript
    # Opening the link (a mail scanner does) records nothing.
    assert count(world, NpsResponse, NpsResponse.account_id == account) == 0

    comment = '<script>alert("x")</script> & great'
    answer = client.post(f"/survey/{token}", data={"score": "9", "comment": comment})
    assert answer.status_code == 200, answer.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; great" in answer.text
    assert "<script>" not in answer.text
    with world.engine.connect() as conn:
        stored = conn.execute(
            select(NpsResponse.score, NpsResponse.comment, NpsResponse.channel).where(
                NpsResponse.account_id == account
            )
        ).one()
    assert tuple(stored) == (9, comment, "email")

    again = client.post(f"/survey/{token}", data={"score": "3"})
    assert again.status_code == 409 and "already answered" in again.text
    assert client.get(f"/survey/{token}").status_code == 409
    assert count(world, NpsResponse, NpsResponse.account_id == account) == 1

    body, sig = token.split(".")
    altered = f"{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{sig}"
    assert client.get(f"/survey/{altered}").status_code == 403
    assert client.post(f"/survey/{altered}", data={"score": "1"}).status_code == 403
    malformed = client.get("/survey/not-a-token")
    assert malformed.status_code == 400 and "incomplete" in malformed.text
    with transaction(world.writer) as s:
        old = s.execute(
            select(SurveyInvitation).where(SurveyInvitation.contact_id == contacts[0])
        ).scalar_one()
        expired = sign_survey_token(
            SurveyClaims(old.nonce, old.contact_id, old.account_id, old.kind, NOW - timedelta(1)),
            LINK_SECRET,
        )
    gone = client.post(f"/survey/{expired}", data={"score": "5"})
    assert gone.status_code == 410 and "expired" in gone.text
    assert count(world, NpsResponse, NpsResponse.account_id == account) == 1


def test_two_survey_posts_at_the_same_moment_record_one_answer(world: World) -> None:
    account, contacts = seed(world, 1)
    token = survey_tokens(world, account)[contacts[0]]
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def submit(score: int) -> None:
        with httpx.Client(base_url=world.base) as c:
            barrier.wait()
            statuses.append(c.post(f"/survey/{token}", data={"score": str(score)}).status_code)

    threads = [threading.Thread(target=submit, args=(s,)) for s in (1, 2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 409, 409, 409]
    assert count(world, NpsResponse, NpsResponse.account_id == account) == 1


def test_malformed_and_oversized_survey_posts_change_nothing(world: World) -> None:
    account, contacts = seed(world, 1)
    token = survey_tokens(world, account)[contacts[0]]
    client = world.http
    no_score = client.post(f"/survey/{token}", data={"comment": "hi"})
    assert no_score.status_code == 400 and "choose a score" in no_score.text
    wrong_type = client.post(f"/survey/{token}", json={"score": 5})
    assert wrong_type.status_code == 400
    broken = client.post(
        f"/survey/{token}",
        content=b"--x\r\nbroken",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert broken.status_code == 400
    huge = client.post(f"/survey/{token}", data={"score": "5", "comment": "x" * 100_000})
    assert huge.status_code == 413
    assert count(world, NpsResponse, NpsResponse.account_id == account) == 0


# --- unsubscribe -------------------------------------------------------------------------------


def test_one_click_unsubscribe_post_only_idempotent_audited(world: World) -> None:
    _account, contacts = seed(world, 2)
    link = unsubscribe_url(world.base, LINK_SECRET, contacts[0], "program:at_risk")
    world.secrets_seen.append(link.rsplit("/", 1)[1])
    client = world.http
    shown = client.get(link)
    assert shown.status_code == 200 and "Unsubscribe p***@customer.example?" in shown.text
    with world.engine.connect() as conn:
        assert (
            conn.execute(
                select(Contact.unsubscribed_at).where(Contact.id == contacts[0])
            ).scalar_one()
            is None
        )

    # What a mailbox provider sends (RFC 8058): no cookies, the one-click body, answered 200.
    one_click = client.post(
        link,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200 and "You are unsubscribed" in one_click.text
    repeat = client.post(link, content=b"List-Unsubscribe=One-Click")
    assert repeat.status_code == 200 and "already unsubscribed" in repeat.text
    with world.engine.connect() as conn:
        gone = (
            conn.execute(
                select(Contact.id).where(
                    Contact.id.in_(contacts), Contact.unsubscribed_at.is_not(None)
                )
            )
            .scalars()
            .all()
        )
    assert gone == [contacts[0]]
    assert count(world, AuditLog, AuditLog.subject == f"contact:{contacts[0]}") == 1
    assert count(world, CampaignFeedback, CampaignFeedback.contact_id == contacts[0]) == 1
    # A forged link (another contact's id under the same signature) changes nothing.
    token = link.rsplit("/", 1)[1]
    forged = token.replace(token[2], "X" if token[2] != "X" else "Y", 1)
    assert client.post(f"{world.base}/unsubscribe/{forged}").status_code in (400, 403)
    assert client.post(f"{world.base}/unsubscribe/?program=x&contact=1").status_code == 404
    with world.engine.connect() as conn:
        assert (
            conn.execute(
                select(Contact.unsubscribed_at).where(Contact.id == contacts[1])
            ).scalar_one()
            is None
        )


# --- provider webhooks -------------------------------------------------------------------------


def campaign_messages(world: World, account: int, contacts: list[int]) -> list[str]:
    """Program e-mails as a program run leaves them (enrolment, program_emails, a delivered
    outbox row); their idempotency keys."""
    keys = []
    with transaction(world.writer) as s:
        enrolment = s.execute(
            insert(ProgramEnrolment)
            .values(
                program="at_risk",
                account_id=account,
                variant="default",
                entry_rule="band",
                entry_key=uuid.uuid4().hex,
                status="active",
                next_step=1,
                enrolled_at=NOW,
            )
            .returning(ProgramEnrolment.id)
        ).scalar_one()
        for cid in contacts:
            key = f"program:at_risk:{uuid.uuid4().hex[:6]}:0:{cid}"
            email = s.get(Contact, cid).email
            s.add(
                OutboxMessage(
                    idempotency_key=key,
                    channel="email",
                    payload={
                        "kind": "campaign",
                        "program": "at_risk",
                        "contact_id": cid,
                        "to": email,
                    },
                    status="delivered",
                    next_attempt_at=NOW,
                    created_at=NOW,
                    account_id=account,
                )
            )
            s.add(
                ProgramEmail(
                    program="at_risk",
                    enrolment_id=enrolment,
                    step_index=0,
                    contact_id=cid,
                    status="queued",
                    outbox_key=key,
                    created_at=NOW,
                )
            )
            keys.append(key)
    return keys


def sg_event(key: str, email: str, event: str, **extra: Any) -> dict[str, Any]:
    return {
        "email": email,
        "timestamp": int(NOW.timestamp()),
        "event": event,
        "sg_event_id": uuid.uuid4().hex,
        "sg_message_id": "abc.filter0001",
        "successcrew_key": key,
        **extra,
    }


def test_sendgrid_events_stored_once_bounces_suppress_and_feedback_counts(world: World) -> None:
    account, contacts = seed(world, 3)
    keys = campaign_messages(world, account, contacts)
    with world.engine.connect() as conn:
        emails = list(
            conn.execute(
                select(Contact.email).where(Contact.id.in_(contacts)).order_by(Contact.id)
            ).scalars()
        )
    events = [
        sg_event(keys[0], emails[0], "delivered"),
        sg_event(keys[0], emails[0], "open"),
        sg_event(keys[0], emails[0], "click", url="https://x.example"),
        sg_event(keys[1], emails[1], "bounce", type="bounce", reason="550 no such user"),
        sg_event(keys[2], emails[2], "spamreport"),
    ]
    body = json.dumps(events).encode() + b"\r\n"  # SendGrid's bodies end in CRLF
    url = f"{world.base}/webhooks/sendgrid"
    ok = world.http.post(url, content=body, headers=sendgrid_headers(world.sendgrid_key, body))
    assert ok.status_code == 200, ok.text
    assert ok.json()["stored"] == 5
    # SendGrid retries: the same events again change nothing.
    again = world.http.post(url, content=body, headers=sendgrid_headers(world.sendgrid_key, body))
    assert again.json()["duplicates"] == 5 and again.json()["stored"] == 0
    assert count(world, EmailEvent, EmailEvent.account_id == account) == 5
    with world.engine.connect() as conn:
        kinds = dict(
            conn.execute(
                select(EmailEvent.kind, func.count())
                .where(EmailEvent.outbox_key == keys[0])
                .group_by(EmailEvent.kind)
            ).all()
        )
        assert kinds == {"delivered": 1, "open": 1, "click": 1}
        assert (
            conn.execute(
                select(EmailSuppression.reason).where(EmailSuppression.email == emails[1].lower())
            ).scalar_one()
            == "hard_bounce"
        )
        feedback = (
            conn.execute(
                select(CampaignFeedback.kind).where(CampaignFeedback.contact_id == contacts[2])
            )
            .scalars()
            .all()
        )
        assert feedback == ["spam_complaint"]
        unsubscribed = conn.execute(
            select(Contact.unsubscribed_at).where(Contact.id == contacts[2])
        ).scalar_one()
        assert unsubscribed is not None

    # Forged: a signature from another key, a changed body, none at all.
    other, _ = sendgrid_keypair()
    forged = [sg_event(keys[0], emails[0], "spamreport")]
    forged_body = json.dumps(forged).encode()
    for headers, sent in (
        (sendgrid_headers(other, forged_body), forged_body),
        (sendgrid_headers(world.sendgrid_key, body), forged_body),
        ({"Content-Type": "application/json"}, forged_body),
    ):
        refused = world.http.post(url, content=sent, headers=headers)
        assert refused.status_code == 403
    assert count(world, CampaignFeedback, CampaignFeedback.contact_id == contacts[0]) == 0
    # Signed but not JSON: 400; too large: 413. Nothing stored either way.
    junk = b"[{not json"
    assert (
        world.http.post(
            url, content=junk, headers=sendgrid_headers(world.sendgrid_key, junk)
        ).status_code
        == 400
    )
    big = b"[" + b" " * (300 * 1024) + b"]"
    assert (
        world.http.post(
            url, content=big, headers=sendgrid_headers(world.sendgrid_key, big)
        ).status_code
        == 413
    )
    assert count(world, EmailEvent, EmailEvent.account_id == account) == 5


def test_sendgrid_refuses_a_genuine_signature_older_than_ten_minutes(world: World) -> None:
    account, contacts = seed(world, 1)
    keys = campaign_messages(world, account, contacts)
    body = json.dumps([sg_event(keys[0], "old@customer.example", "delivered")]).encode()
    url = f"{world.base}/webhooks/sendgrid"
    month_old = str(int(time.time()) - 30 * 86400)
    replayed = world.http.post(
        url, content=body, headers=sendgrid_headers(world.sendgrid_key, body, ts=month_old)
    )
    assert replayed.status_code == 403
    assert "too old" in replayed.json()["error"]
    late = str(int(time.time()) - 11 * 60)
    assert (
        world.http.post(
            url, content=body, headers=sendgrid_headers(world.sendgrid_key, body, ts=late)
        ).status_code
        == 403
    )
    assert count(world, EmailEvent, EmailEvent.account_id == account) == 0
    fresh = world.http.post(url, content=body, headers=sendgrid_headers(world.sendgrid_key, body))
    assert fresh.status_code == 200 and fresh.json()["stored"] == 1


def test_a_replayed_slack_click_is_taken_and_audited_once(world: World) -> None:
    esc_id, channel, ts = posted_escalation(world)
    url = f"{world.base}/slack/interactions"

    def audit_rows() -> list[str]:
        with world.engine.connect() as conn:
            return list(
                conn.execute(
                    select(AuditLog.action)
                    .where(AuditLog.subject == f"escalation:{esc_id}")
                    .order_by(AuditLog.id)
                ).scalars()
            )

    outsider = click(world, esc_id, "U0OTHER9", channel, ts)
    body = click(world, esc_id, CHAIR, channel, ts)
    for _ in range(3):  # a recorded body sent again within Slack's five minutes, re-signed
        for payload in (outsider, body):
            answer = world.http.post(
                url, content=payload, headers=slack_headers(SLACK_SECRET, payload)
            )
            assert answer.status_code == 200
    deadline = time.monotonic() + 5
    while "escalation.slack_card" not in audit_rows() and time.monotonic() < deadline:
        time.sleep(0.05)
    actions = audit_rows()
    assert actions.count("escalation.slack_refused") == 1
    assert actions.count("escalation.approved") == 1
    assert "escalation.slack_final" not in actions


def test_mailchimp_webhook_head_test_batch_events_and_replies(world: World) -> None:
    url = f"{world.base}/webhooks/mailchimp"
    assert world.http.head(url).status_code == 200
    empty = {"mandrill_events": "[]"}
    test_sig = mandrill_signature("test-webhook", url, empty)
    assert (
        world.http.post(url, data=empty, headers={"X-Mandrill-Signature": test_sig}).status_code
        == 200
    )

    account, contacts = seed(world, 2)
    keys = campaign_messages(world, account, contacts)
    with world.engine.connect() as conn:
        emails = list(
            conn.execute(
                select(Contact.email).where(Contact.id.in_(contacts)).order_by(Contact.id)
            ).scalars()
        )
    ts = int(NOW.timestamp())
    items = [
        {
            "event": "open",
            "ts": ts,
            "_id": "m1",
            "msg": {"email": emails[0], "metadata": {"successcrew_key": keys[0]}},
        },
        {
            "event": "hard_bounce",
            "ts": ts,
            "_id": "m2",
            "msg": {"email": emails[1], "metadata": {"successcrew_key": keys[1]}},
        },
        {
            "event": "inbound",
            "ts": ts,
            "msg": {
                "from_email": emails[0],
                "subject": "Re: hello",
                "text": "This is terrible, awful and useless. Stop.",
            },
        },
    ]
    params = {"mandrill_events": json.dumps(items)}
    sig = mandrill_signature(MANDRILL_KEY, url, params)
    ok = world.http.post(url, data=params, headers={"X-Mandrill-Signature": sig})
    assert ok.status_code == 200 and ok.json()["stored"] == 3, ok.text
    assert (
        world.http.post(url, data=params, headers={"X-Mandrill-Signature": sig}).json()[
            "duplicates"
        ]
        == 3
    )
    with world.engine.connect() as conn:
        assert conn.execute(
            select(CampaignFeedback.kind).where(CampaignFeedback.contact_id == contacts[0])
        ).scalars().all() == ["negative_reply"]
        assert count(world, EmailSuppression, EmailSuppression.email == emails[1].lower()) == 1
    # Signed with the test key, a real batch is refused; a wrong key or URL likewise.
    for key, signed_url in (("test-webhook", url), ("wrong", url), (MANDRILL_KEY, url + "?x=1")):
        bad = mandrill_signature(key, signed_url, params)
        assert (
            world.http.post(url, data=params, headers={"X-Mandrill-Signature": bad}).status_code
            == 403
        )
    assert count(world, EmailEvent, EmailEvent.account_id == account) == 3


# --- Slack -----------------------------------------------------------------------------------


def posted_escalation(world: World) -> tuple[int, str, str]:
    """An open escalation whose card the real dispatcher posted to the Slack stand-in."""
    account, _ = seed(world, 0)
    with transaction(world.writer) as s:
        esc = Escalation(
            kind="critical_high_value",
            account_id=account,
            title=f"Escalation {uuid.uuid4().hex[:6]}",
            context={"account": "Acme"},
            proposed_action={"type": "special_offer", "discount_pct": 15, "months": 3},
            status="open",
            created_at=NOW - timedelta(hours=1),
            expires_at=NOW + timedelta(days=2),
        )
        s.add(esc)
        s.flush()
        send_escalation(
            s, esc, settings=world.settings, now=NOW - timedelta(hours=1), reminder=False
        )
        esc_id = esc.id
    dispatch(world.writer, world.settings, load_thresholds(), NOW - timedelta(hours=1))
    with world.engine.connect() as conn:
        channel, ts = conn.execute(
            select(OutboxMessage.provider_channel, OutboxMessage.provider_message_id).where(
                OutboxMessage.idempotency_key == f"escalation:{esc_id}:notice"
            )
        ).one()
    assert channel == "C0CH" and ts
    return esc_id, channel, ts


def click(
    world: World, esc_id: int, user: str, channel: str, ts: str, action: str = "approve"
) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "chair" if user == CHAIR else "someone"},
        "channel": {"id": channel},
        "container": {"type": "message", "message_ts": ts, "channel_id": channel},
        "actions": [
            {"action_id": f"escalation_{action}", "value": f"{esc_id}:{action}", "type": "button"}
        ],
        "response_url": world.slack.url.removesuffix("/api") + f"/actions/T1/{esc_id}/x",
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_slack_button_decides_once_for_deciders_only_and_updates_the_card(world: World) -> None:
    esc_id, channel, ts = posted_escalation(world)
    url = f"{world.base}/slack/interactions"
    # Someone not on the deciders list: 200 (Slack shows no error), told why, nothing changes.
    outsider = click(world, esc_id, "U0OTHER9", channel, ts)
    assert (
        world.http.post(
            url, content=outsider, headers=slack_headers(SLACK_SECRET, outsider)
        ).status_code
        == 200
    )
    deadline = time.monotonic() + 5
    while not world.slack.responses and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "not allowed" in world.slack.responses[-1]["text"]
    assert world.slack.responses[-1]["response_type"] == "ephemeral"
    with world.engine.connect() as conn:
        assert (
            conn.execute(select(Escalation.status).where(Escalation.id == esc_id)).scalar_one()
            == "open"
        )

    body = click(world, esc_id, CHAIR, channel, ts)
    # Forged and stale requests are refused before anything is read.
    assert (
        world.http.post(url, content=body, headers=slack_headers("wrong", body)).status_code == 401
    )
    stale = slack_headers(SLACK_SECRET, body, ts=int(time.time()) - 301)
    assert world.http.post(url, content=body, headers=stale).status_code == 401
    bad_stamp = {**slack_headers(SLACK_SECRET, body), "X-Slack-Request-Timestamp": "abc"}
    assert world.http.post(url, content=body, headers=bad_stamp).status_code == 401
    with world.engine.connect() as conn:
        assert (
            conn.execute(select(Escalation.status).where(Escalation.id == esc_id)).scalar_one()
            == "open"
        )

    started = time.monotonic()
    taken = world.http.post(url, content=body, headers=slack_headers(SLACK_SECRET, body))
    assert taken.status_code == 200 and time.monotonic() - started < 3
    with world.engine.connect() as conn:
        row = conn.execute(
            select(Escalation.status, Escalation.decided_by, Escalation.decided_via).where(
                Escalation.id == esc_id
            )
        ).one()
    assert tuple(row) == ("approved", f"<@{CHAIR}>", "slack")
    deadline = time.monotonic() + 5
    while not any(u["ts"] == ts for u in world.slack.updates) and time.monotonic() < deadline:
        time.sleep(0.05)
    update = next(u for u in world.slack.updates if u["ts"] == ts)
    assert update["channel"] == channel and "Approved by" in json.dumps(update["blocks"])
    assert all(b["type"] != "actions" for b in update["blocks"])

    # A replay of the same body (inside Slack's five minutes), and a Decline click: final.
    replay = world.http.post(url, content=body, headers=slack_headers(SLACK_SECRET, body))
    decline = click(world, esc_id, CHAIR, channel, ts, "decline")
    world.http.post(url, content=decline, headers=slack_headers(SLACK_SECRET, decline))
    assert replay.status_code == 200
    with world.engine.connect() as conn:
        assert (
            conn.execute(select(Escalation.status).where(Escalation.id == esc_id)).scalar_one()
            == "approved"
        )
        actions = (
            conn.execute(
                select(AuditLog.action)
                .where(AuditLog.subject == f"escalation:{esc_id}")
                .order_by(AuditLog.id)
            )
            .scalars()
            .all()
        )
    assert actions.count("escalation.approved") == 1
    assert "escalation.slack_refused" in actions and "escalation.slack_final" in actions
    malformed = b"payload=%7Bnot-json"
    assert (
        world.http.post(
            url, content=malformed, headers=slack_headers(SLACK_SECRET, malformed)
        ).status_code
        == 400
    )


# --- Segment-compatible product events ---------------------------------------------------------


def segment(
    world: World, path: str, body: Any, *, key: str = WRITE_KEY, **kw: Any
) -> httpx.Response:
    return world.http.post(f"{world.base}/v1/{path}", auth=(key, ""), json=body, **kw)


def test_segment_calls_create_accounts_contacts_and_usage_once(world: World) -> None:
    tag = uuid.uuid4().hex[:6]
    group, user = f"G-{tag}", f"user-{tag}"
    at = "2026-11-20T10:00:00Z"
    batch = {
        "batch": [
            {
                "type": "group",
                "messageId": f"m1-{tag}",
                "userId": user,
                "groupId": group,
                "traits": {"name": "Globex", "plan": "pro"},
            },
            {
                "type": "identify",
                "messageId": f"m2-{tag}",
                "userId": user,
                "traits": {"email": f"{tag}@globex.example", "name": "Hank"},
            },
            {
                "type": "track",
                "messageId": f"m3-{tag}",
                "userId": user,
                "event": "Signed In",
                "timestamp": at,
            },
            {
                "type": "track",
                "messageId": f"m4-{tag}",
                "userId": user,
                "event": "Signed In",
                "timestamp": at,
            },
            {
                "type": "track",
                "messageId": f"m5-{tag}",
                "userId": user,
                "event": "API Calls Made",
                "properties": {"count": 40},
                "timestamp": at,
            },
            {
                "type": "track",
                "messageId": f"m6-{tag}",
                "userId": user,
                "event": "Unmapped Thing",
                "timestamp": at,
            },
        ],
        "context": {"library": {"name": "analytics-python"}},
    }
    assert segment(world, "batch", batch, key="wrong").status_code == 401
    assert count(world, Account, Account.external_id == group) == 0
    ok = segment(world, "batch", batch)
    assert ok.status_code == 200
    assert ok.json() == {"success": True, "dropped": {"event_not_mapped": 1}}
    # Retried by the client: nothing twice. A single track call with a known messageId too.
    assert segment(world, "batch", batch).status_code == 200
    assert segment(world, "track", batch["batch"][2]).status_code == 200
    with world.engine.connect() as conn:
        account_id, name, plan = conn.execute(
            select(Account.id, Account.name, Account.plan).where(Account.external_id == group)
        ).one()
        assert (name, plan) == ("Globex", "pro")
        assert (
            conn.execute(select(Contact.email).where(Contact.external_id == user)).scalar_one()
            == f"{tag}@globex.example"
        )
        events = conn.execute(
            select(UsageEvent.metric, func.sum(UsageEvent.value), func.count())
            .where(UsageEvent.account_id == account_id)
            .group_by(UsageEvent.metric)
        ).all()
        assert sorted(map(tuple, events)) == [("api_calls", 40.0, 1), ("logins", 2.0, 2)]
        daily = dict(
            conn.execute(
                select(UsageDaily.metric, UsageDaily.value).where(
                    UsageDaily.account_id == account_id
                )
            ).all()
        )
    assert daily == {"api_calls": 40.0, "logins": 2.0}
    # gzip, as analytics-python sends it.
    later = {
        "batch": [
            {
                "type": "track",
                "messageId": f"m7-{tag}",
                "userId": user,
                "event": "Signed In",
                "timestamp": at,
            }
        ]
    }
    zipped = gzip.compress(json.dumps(later).encode())
    sent = world.http.post(
        f"{world.base}/v1/batch",
        auth=(WRITE_KEY, ""),
        content=zipped,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert sent.status_code == 200
    assert count(world, UsageEvent, UsageEvent.account_id == account_id) == 4


def library_batch(library: str, call: dict[str, Any]) -> dict[str, Any]:
    """A batch exactly as the library posts it to ``/v1/batch`` (captured from
    segment-analytics-python 2.4.0 and rudder-sdk-python 2.1.9 against a local server): the
    wrapper, the library context, and where each puts an identify's traits."""
    version = {"segment": "2.4.0", "rudderstack": "2.1.9"}[library]
    item = {
        "integrations": {} if library == "segment" else {"All": True},
        "anonymousId": None,
        "timestamp": "2026-12-07T23:50:20.647+00:00",
        "context": {"library": {"name": "analytics-python", "version": version}},
        "messageId": str(uuid.uuid4()),
        **call,
    }
    if library == "rudderstack":
        item["channel"] = "server"
        if item["type"] == "identify":  # RudderStack's library: context.traits, not traits
            item["context"] = {"traits": item.pop("traits"), **item["context"]}
    if "context_extra" in item:
        item["context"].update(item.pop("context_extra"))
    body: dict[str, Any] = {"batch": [item], "sentAt": "2026-12-07T23:50:20.647891+00:00"}
    if library == "segment":
        body["writeKey"] = WRITE_KEY
    return body


@pytest.mark.parametrize("library", ["segment", "rudderstack"])
def test_calls_as_the_segment_and_rudderstack_libraries_send_them(
    world: World, library: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    group, user = f"G-{library}-{tag}", f"user-{library}-{tag}"
    calls = [
        {
            "type": "group",
            "userId": user,
            "groupId": group,
            "traits": {"name": "Acme", "plan": "pro"},
        },
        {
            "type": "identify",
            "userId": user,
            "traits": {"email": f"{tag}@acme.example", "name": "Bo"},
        },
        {
            "type": "track",
            "userId": user,
            "event": "Signed In",
            "properties": {"count": 2},
            "context_extra": {"groupId": group},
        },
    ]
    for call in calls:
        body = json.dumps(library_batch(library, call)).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"analytics-python/{'2.4.0' if library == 'segment' else '2.1.9'}",
        }
        if library == "rudderstack":  # its library gzips every batch
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        sent = world.http.post(
            f"{world.base}/v1/batch", content=body, headers=headers, auth=(WRITE_KEY, "")
        )
        assert sent.status_code == 200 and sent.json() == {"success": True, "dropped": {}}
    with world.engine.connect() as conn:
        name, plan = conn.execute(
            select(Account.name, Account.plan).where(Account.external_id == group)
        ).one()
        email, contact_name = conn.execute(
            select(Contact.email, Contact.name).where(Contact.external_id == user)
        ).one()
    assert (name, plan) == ("Acme", "pro")
    assert (email, contact_name) == (f"{tag}@acme.example", "Bo")
    with world.engine.connect() as conn:
        usage = conn.execute(
            select(UsageEvent.metric, UsageEvent.value, Contact.external_id)
            .join(Account, Account.id == UsageEvent.account_id)
            .join(Contact, Contact.id == UsageEvent.contact_id)
            .where(Account.external_id == group)
        ).all()
    assert [tuple(u) for u in usage] == [("logins", 1.0, user)]


def test_a_call_dropped_for_missing_data_is_counted_and_logged(world: World) -> None:
    def dropped_identifies() -> float:
        text = world.http.get(f"{world.base}/metrics").text
        found = re.search(
            r'^successcrew_product_events_dropped_total\{reason="identify_without_user_or_email"\} (\S+)$',
            text,
            re.M,
        )
        return float(found.group(1)) if found else 0.0

    before = dropped_identifies()
    nameless = {"type": "identify", "userId": "u-no-email", "traits": {"name": "No Mail"}}
    answer = segment(world, "batch", library_batch("rudderstack", nameless))
    assert answer.status_code == 200
    assert answer.json()["dropped"] == {"identify_without_user_or_email": 1}
    assert dropped_identifies() == before + 1
    time.sleep(0.2)
    assert "product events: 1 of 1 call(s) dropped: identify_without_user_or_email 1" in (
        world.served.log()
    )


def test_segment_limits_and_malformed_bodies_are_400(world: World) -> None:
    big_call = {
        "type": "track",
        "userId": "u",
        "event": "Signed In",
        "properties": {"x": "y" * 33_000},
    }
    assert segment(world, "track", big_call).status_code == 400
    many = {
        "batch": [
            {
                "type": "track",
                "userId": "u",
                "event": "Signed In",
                "properties": {"x": "y" * 20_000},
                "messageId": str(i),
            }
            for i in range(30)
        ]
    }
    assert segment(world, "batch", many).status_code == 400
    broken = world.http.post(
        f"{world.base}/v1/track",
        auth=(WRITE_KEY, ""),
        content=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    assert (
        count(world, UsageEvent, UsageEvent.metric == "logins", UsageEvent.contact_id.is_(None))
        == 0
    )


# --- the in-app survey API ---------------------------------------------------------------------


def test_in_app_survey_api_origin_cors_rate_limit(world: World) -> None:
    import hashlib
    import hmac

    account, contacts = seed(world, 1)
    survey_tokens(world, account, channel="in_app")
    with world.engine.connect() as conn:
        user = conn.execute(
            select(Contact.external_id).where(Contact.id == contacts[0])
        ).scalar_one()
    user_hash = hmac.new(IN_APP_SECRET.encode(), user.encode(), hashlib.sha256).hexdigest()
    api = f"{world.base}/api/v1/surveys/in-app"
    preflight = world.http.options(
        api, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert world.http.options(api, headers={"Origin": "https://evil.example"}).status_code == 403
    assert (
        world.http.get(
            api, params={"user": user, "user_hash": "0" * 64}, headers={"Origin": ORIGIN}
        ).status_code
        == 401
    )
    found = world.http.get(
        api, params={"user": user, "user_hash": user_hash}, headers={"Origin": ORIGIN}
    )
    assert found.status_code == 200 and found.json()["kind"] == "nps"
    token = found.json()["token"]
    assert (
        world.http.post(
            api, json={"token": token, "score": 7}, headers={"Origin": "https://evil.example"}
        ).status_code
        == 403
    )
    assert (
        world.http.post(
            api, content=b"{", headers={"Origin": ORIGIN, "Content-Type": "application/json"}
        ).status_code
        == 400
    )
    recorded = world.http.post(
        api, json={"token": token, "score": 7, "comment": "ok"}, headers={"Origin": ORIGIN}
    )
    assert recorded.status_code == 201 and recorded.headers["access-control-allow-origin"] == ORIGIN
    assert (
        count(
            world, NpsResponse, NpsResponse.account_id == account, NpsResponse.channel == "in_app"
        )
        == 1
    )
    statuses = [
        world.http.post(
            api, json={"token": token, "score": 7}, headers={"Origin": ORIGIN}
        ).status_code
        for _ in range(RATE + 1)
    ]
    assert statuses[-1] == 429 and set(statuses[:-1]) <= {409, 429}
    assert count(world, NpsResponse, NpsResponse.account_id == account) == 1
    assert "textContent" in world.http.get(f"{world.base}/widget.js").text


# --- operations --------------------------------------------------------------------------------


def test_no_hsts_over_http_or_from_an_untrusted_proxy(world: World) -> None:
    # 127.0.0.1 is not a trusted proxy here: its X-Forwarded-Proto is not believed.
    answer = world.http.get(f"{world.base}/livez", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in answer.headers
    assert "strict-transport-security" not in world.http.get(f"{world.base}/livez").headers


def test_healthz_and_metrics(world: World) -> None:
    # Its own figures, so it passes alone and in any order: an outbox message, an answered
    # survey, a stored SendGrid event and a forged one.
    account, contacts = seed(world, 1)
    keys = campaign_messages(world, account, contacts)
    token = survey_tokens(world, account)[contacts[0]]
    answered = world.http.post(f"{world.base}/survey/{token}", data={"score": "9"})
    assert answered.status_code == 200, answered.text
    with world.engine.connect() as conn:
        email = conn.execute(select(Contact.email).where(Contact.id == contacts[0])).scalar_one()
    body = json.dumps([sg_event(keys[0], email, "delivered")]).encode()
    url = f"{world.base}/webhooks/sendgrid"
    stored = world.http.post(url, content=body, headers=sendgrid_headers(world.sendgrid_key, body))
    assert stored.status_code == 200, stored.text
    forged = world.http.post(
        url, content=body, headers=sendgrid_headers(sendgrid_keypair()[0], body)
    )
    assert forged.status_code in (401, 403)
    with transaction(world.writer) as s:
        s.execute(
            insert(CrewRun),
            [
                {
                    "started_at": NOW - timedelta(hours=9),
                    "finished_at": NOW - timedelta(hours=8, minutes=59),
                    "simulated_now": NOW,
                    "status": "succeeded",
                    "dry_run": False,
                },
            ],
        )
    stale = world.http.get(f"{world.base}/healthz")
    assert stale.status_code == 503 and "more than 180 minutes" in stale.json()["problem"]
    with transaction(world.writer) as s:
        s.execute(
            insert(CrewRun),
            [
                {
                    "started_at": NOW - timedelta(minutes=10),
                    "finished_at": NOW - timedelta(minutes=9),
                    "simulated_now": NOW,
                    "status": "succeeded",
                    "dry_run": False,
                },
            ],
        )
    fresh = world.http.get(f"{world.base}/healthz")
    assert fresh.status_code == 200 and fresh.json()["database"] == "ok"
    text = world.http.get(f"{world.base}/metrics").text
    for name in (
        "successcrew_db_up 1.0",
        'successcrew_runs_total{status="succeeded"}',
        "successcrew_last_success_timestamp_seconds",
        "successcrew_run_duration_seconds 60.0",
        "successcrew_outbox_messages{",
        "successcrew_outbox_dead_letters",
        "successcrew_survey_responses_total{",
        'successcrew_webhook_events_total{outcome="stored",provider="sendgrid"}',
        'successcrew_signature_failures_total{provider="sendgrid"}',
    ):
        assert name in text, name
    assert "@" not in text  # no addresses (or any unbounded label) in the figures


def test_access_log_names_routes_never_tokens_or_keys(world: World) -> None:
    # X-Forwarded-For from a client that is not a configured proxy is not believed.
    world.http.get("/livez", headers={"X-Forwarded-For": "198.51.100.77"})
    world.secrets_seen.append("sometoken.notreally")
    world.http.post("/survey/sometoken.notreally?score=3", data={"score": "3"})
    time.sleep(0.2)
    log = world.served.log()
    assert "GET /livez 200" in log and "198.51.100.77" not in log
    assert "POST /survey/{token} 403" in log and "score=3" not in log
    for secret in [*world.secrets_seen, LINK_SECRET, WRITE_KEY, SLACK_SECRET, MANDRILL_KEY]:
        assert secret not in log
