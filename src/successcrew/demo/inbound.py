"""The demo's way back in: ``successcrew serve``'s app on a loopback port in this process, the
simulated customers who open their survey links, answer and unsubscribe through it, the e-mail
provider reporting their spam complaints to its signed Mailchimp webhook, and the simulated
chairman who decides with a signed Slack button click, as Slack would send it.

Nothing here writes to the database directly: every answer, unsubscribe and decision goes
through the real endpoints, so the demo shows the same path a customer's click takes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import Engine, select

from successcrew.definitions.escalation_policy import load_policy
from successcrew.demo.synthetic import Scenario
from successcrew.domain.email_event_rules import KEY_FIELD
from successcrew.settings import Settings
from successcrew.store.models import Account, OutboxMessage
from successcrew.web.signatures import mandrill_signature

#: The Slack member id the demo's chairman clicks with (the web app lists it as a decider).
DEMO_CHAIRMAN_ID = "U0DEMOCHAIR"
DEMO_SIGNING_SECRET = "successcrew-demo-only-slack-signing-secret"
#: Share of survey e-mails the simulated customers answer, and of the other e-mails (survey
#: or program) whose recipient unsubscribes with their mail client's one-click button.
ANSWER_RATE = 0.4
UNSUBSCRIBE_RATE = 0.05
#: Former customers of the cohort that left together (``Scenario.cohort_churned``) resent a
#: campaign e-mail weeks after they left: this share unsubscribes, and this share reports it as
#: spam in their mail client (the provider tells its webhook).
RESENTED_UNSUBSCRIBE_RATE = 0.12
RESENTED_SPAM_RATE = 0.07
DEMO_MAILCHIMP_WEBHOOK_KEY = "successcrew-demo-only-mandrill-webhook-key"
COMMENTS = (
    "Great support team, quick answers.",
    "The reporting is slow and the export keeps failing.",
    "Too expensive for what we use.",
    "",
    "Onboarding was confusing, but it works now.",
    "",
)
#: Scores 0..10 the simulated customers give, normally and after the broken release.
WEIGHTS = (1, 1, 1, 1, 2, 2, 3, 5, 8, 8, 6)
HURT_WEIGHTS = (3, 4, 5, 6, 6, 5, 4, 3, 2, 2, 1)
HURT_COMMENTS = (
    "Reports show wrong numbers since the last release.",
    "The export keeps failing with an error.",
    "Since the update the dashboards are broken for us.",
    "",
)


@dataclass
class SimulatedClock:
    """The app's clock: the simulated moment the demo is at."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def loopback_server(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="demo-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the demo's web server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class CameBack:
    """What the simulated people did through the endpoints."""

    survey_pages_opened: int = 0
    survey_answers: int = 0
    unsubscribes: int = 0
    spam_reports: int = 0
    slack_clicks: int = 0
    refused: int = 0
    seen: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, int]:
        """JSON-ready."""
        return {
            "survey_pages_opened": self.survey_pages_opened,
            "survey_answers": self.survey_answers,
            "unsubscribes": self.unsubscribes,
            "spam_reports": self.spam_reports,
            "slack_clicks": self.slack_clicks,
            "refused": self.refused,
        }


class InboundLoop:
    """The web app for the demo, and the people on the other side of its links."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        start: datetime,
        seed: int = 11,
        scenario: Scenario | None = None,
    ):
        self.engine = engine
        self.scenario = scenario
        self.settings = settings
        self.clock = SimulatedClock(start)
        self.rng = random.Random(seed)
        self.came_back = CameBack()
        self.base = ""
        self.http: httpx.Client | None = None
        #: The webhook URL as registered with Mandrill, part of what it signs.
        self.mandrill_url = ""
        self._resentful: set[int] | None = None

    @contextmanager
    def running(self) -> Iterator[InboundLoop]:
        """Start the app (its own engine; its clock is the demo's) and a client for it."""
        from pydantic import SecretStr

        from successcrew.store.db import make_engine
        from successcrew.web.application import create_app

        url = self.engine.url.render_as_string(hide_password=False)
        web_engine = make_engine(url, immediate=True)
        policy = load_policy().model_copy(update={"deciders": (DEMO_CHAIRMAN_ID,)})
        web_settings = self.settings.model_copy(
            update={
                "slack_signing_secret": SecretStr(DEMO_SIGNING_SECRET),
                "mailchimp_webhook_key": SecretStr(DEMO_MAILCHIMP_WEBHOOK_KEY),
            }
        )
        self.mandrill_url = web_settings.mandrill_url()
        app = create_app(web_settings, engine=web_engine, clock=self.clock, policy=policy)
        try:
            with loopback_server(app) as base, httpx.Client(base_url=base, timeout=30) as http:
                self.base, self.http = base, http
                yield self
        finally:
            web_engine.dispose()

    def _new_emails(self, kind: str) -> list[tuple[str, int | None, dict[str, Any]]]:
        """Today's new e-mails of ``kind``: key, account id and payload."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    OutboxMessage.idempotency_key, OutboxMessage.account_id, OutboxMessage.payload
                )
                .where(OutboxMessage.channel == "email")
                .order_by(OutboxMessage.id)
            ).all()
        fresh = [
            (key, account_id, payload)
            for key, account_id, payload in rows
            if (payload or {}).get("kind") == kind and key not in self.came_back.seen
        ]
        self.came_back.seen.update(key for key, _, _ in fresh)
        return fresh

    def _resentful_accounts(self) -> set[int]:
        """The accounts of the cohort that left together (their former customers resent mail)."""
        if self._resentful is None:
            cohort = self.scenario.cohort_churned if self.scenario else ()
            with self.engine.connect() as conn:
                self._resentful = set(
                    conn.execute(select(Account.id).where(Account.external_id.in_(cohort)))
                    .scalars()
                    .all()
                )
        return self._resentful

    def customers_act(self, now: datetime) -> dict[str, int]:
        """Some recipients of today's survey e-mails open the link and answer; a few of the
        others unsubscribe with their mail client's one-click button. Former customers of the
        cohort that left resent a campaign e-mail: more of them unsubscribe, and some report it
        as spam, which the e-mail provider reports to its webhook."""
        assert self.http is not None
        self.clock.now = now
        done = {"answers": 0, "unsubscribes": 0, "spam_reports": 0}
        link = re.compile(re.escape(self.base) + r"/survey/([A-Za-z0-9_\-.]+)")
        unanswered = []
        for _key, _account, payload in self._new_emails("survey"):
            found = link.search(str(payload.get("text", "")))
            if found is None or self.rng.random() >= ANSWER_RATE:
                unanswered.append(payload)
                continue
            token = found.group(1)
            hurt = self.scenario is not None and self.scenario.bad_release_hurts(now.date())
            # After the broken release most customers who answer are detractors.
            weights = HURT_WEIGHTS if hurt else WEIGHTS
            score = self.rng.choices(range(11), weights=weights)[0]
            comment = self.rng.choice(HURT_COMMENTS if hurt else COMMENTS)
            page = self.http.get(f"/survey/{token}", params={"score": score})
            self.came_back.survey_pages_opened += 1
            if page.status_code != 200:
                self.came_back.refused += 1
                continue
            answer = self.http.post(
                f"/survey/{token}", data={"score": str(score), "comment": comment}
            )
            if answer.status_code == 200:
                self.came_back.survey_answers += 1
                done["answers"] += 1
            else:
                self.came_back.refused += 1
        resentful = self._resentful_accounts()
        to_unsubscribe, spam = list(unanswered), []
        for key, account_id, payload in self._new_emails("campaign"):
            if account_id not in resentful:
                to_unsubscribe.append(payload)
                continue
            roll = self.rng.random()
            if roll < RESENTED_SPAM_RATE:
                spam.append((key, payload))
            elif roll < RESENTED_SPAM_RATE + RESENTED_UNSUBSCRIBE_RATE:
                to_unsubscribe.append({**payload, "resented": True})
        for payload in to_unsubscribe:
            url = str(payload.get("unsubscribe_url") or "")
            # Only e-mails of this demo run point here (an earlier run had another port).
            if not url.startswith(self.base):
                continue
            if not payload.get("resented") and self.rng.random() >= UNSUBSCRIBE_RATE:
                continue
            # What Gmail or Yahoo send for their unsubscribe button (RFC 8058): no cookies.
            sent = self.http.post(
                url.removeprefix(self.base),
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            if sent.status_code == 200:
                self.came_back.unsubscribes += 1
                done["unsubscribes"] += 1
        done["spam_reports"] = self._report_spam(spam, now)
        return done

    def _report_spam(self, emails: list[tuple[str, dict[str, Any]]], now: datetime) -> int:
        """Post the spam complaints as Mailchimp Transactional does: one signed batch of
        ``spam`` events, each carrying the outbox key the sender put in the metadata."""
        assert self.http is not None
        if not emails:
            return 0
        events = [
            {
                "event": "spam",
                "_id": f"demo-{key}",
                "ts": int(now.timestamp()),
                "msg": {
                    "_id": f"demo-{key}",
                    "email": payload.get("to"),
                    "subject": payload.get("subject"),
                    "state": "sent",
                    "metadata": {KEY_FIELD: key},
                },
            }
            for key, payload in emails
        ]
        params = {"mandrill_events": json.dumps(events)}
        signature = mandrill_signature(DEMO_MAILCHIMP_WEBHOOK_KEY, self.mandrill_url, params)
        answer = self.http.post(
            "/webhooks/mailchimp",
            content=urlencode(params).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Mandrill-Signature": signature,
            },
        )
        if answer.status_code != 200:
            self.came_back.refused += len(emails)
            return 0
        self.came_back.spam_reports += len(emails)
        return len(emails)

    def chairman_clicks(self, escalation_id: int, now: datetime) -> bool:
        """Approve escalation ``escalation_id`` with a Slack button click signed as Slack signs
        it."""
        assert self.http is not None
        self.clock.now = now
        payload = {
            "type": "block_actions",
            "user": {"id": DEMO_CHAIRMAN_ID, "username": "demo-chairman"},
            "channel": {"id": "C0DEMO"},
            "container": {"type": "message", "message_ts": f"{now.timestamp():.6f}"},
            "actions": [
                {
                    "action_id": "escalation_approve",
                    "value": f"{escalation_id}:approve",
                    "type": "button",
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        stamp = str(int(time.time()))  # Slack signs with real time, whatever the demo's clock
        digest = hmac.new(
            DEMO_SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256
        ).hexdigest()
        answer = self.http.post(
            "/slack/interactions",
            content=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": f"v0={digest}",
            },
        )
        self.came_back.slack_clicks += 1
        return answer.status_code == 200
