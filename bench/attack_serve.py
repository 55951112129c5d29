"""The attack list of issue 22, rerun against ``successcrew serve`` (a real process, --workers 2).

    .venv/bin/python bench/attack_serve.py            # SQLite
    .venv/bin/python bench/attack_serve.py --postgres # a fresh PostgreSQL database

Seeds a database (users of each role, a csm's account and someone else's, an escalation and a
model proposal on the other account, a survey invitation), starts ``serve`` with every inbound
secret set, then tries each finding of the attack session and prints one line per check:
``ok`` when the server now does what it should, ``FOUND`` when the finding is still there. Exit
code 1 when anything was found. Not a timed test; docs/web.md lists what it checks.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.serving import base_env, free_port, module_database, start_serve, stop_serve  # noqa: E402
from tests.signing import (  # noqa: E402
    mandrill_signature,
    sendgrid_headers,
    sendgrid_keypair,
    slack_headers,
)

from successcrew.definitions.playbooks import SurveySettings  # noqa: E402
from successcrew.domain.survey_tokens import SurveyClaims, sign_survey_token  # noqa: E402
from successcrew.paths import definition_path  # noqa: E402
from successcrew.services.platform.users import add_user  # noqa: E402
from successcrew.services.voice.surveys import run_wave  # noqa: E402
from successcrew.store.db import make_engine, transaction  # noqa: E402
from successcrew.store.models import (  # noqa: E402
    Account,
    ActionProposal,
    AuditLog,
    Contact,
    EmailEvent,
    Escalation,
    SurveyInvitation,
)

NOW = datetime.now(UTC)
PASSWORD = "attack-list password"
LINK, SLACK, MANDRILL, WRITE_KEY, IN_APP = (
    "attack-link-secret",
    "attack-slack-secret",
    "attack-mandrill-key",
    "attack-write-key",
    "attack-in-app-secret",
)
ORIGIN = "https://app.example.com"
CHAIR = "U0ATTACK1"
USERS = {"csm": "csm@attack.example", "lead": "lead@attack.example", "viewer": "v@attack.example"}


class World:
    """The running server and its database."""

    def __init__(self, base: str, url: str, sendgrid_key: object) -> None:
        self.base = base
        self.engine = make_engine(url)
        self.sendgrid_key = sendgrid_key
        self.ids: dict[str, object] = {}

    def client(self, role: str | None = None) -> httpx.Client:
        client = httpx.Client(base_url=self.base, headers={"Origin": self.base}, timeout=60)
        if role is not None:
            answer = client.post("/login", data={"email": USERS[role], "password": PASSWORD})
            assert answer.status_code == 303, answer.text[:300]
        return client

    def csrf(self, client: httpx.Client, path: str = "/my-work") -> str:
        found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
        assert found
        return found.group(1)

    def count(self, model: object, *where: object) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(model).where(*where)))


def seed(url: str) -> dict[str, object]:
    engine = make_engine(url)
    tag = uuid.uuid4().hex[:6]
    with transaction(engine) as s:
        for role, email in USERS.items():
            add_user(
                s, email, role=role, name=None, password=PASSWORD, by="attack", now=NOW, cost="low"
            )
        mine, theirs = (
            s.execute(
                insert(Account)
                .values(
                    external_id=ext,
                    name=name,
                    owner_email=owner,
                    arr=90000,
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(Account.id)
            ).scalar_one()
            for ext, name, owner in (
                (f"MINE-{tag}", "Mine Ltd", USERS["csm"]),
                (f"THEIRS-{tag}", "Theirs Corp", "other@attack.example"),
            )
        )
        contact = s.execute(
            insert(Contact)
            .values(
                external_id=f"C-{tag}",
                account_id=mine,
                email=f"c.{tag}@customer.example",
                survey_consent=True,
                created_at=NOW,
                updated_at=NOW,
            )
            .returning(Contact.id)
        ).scalar_one()
        escalation = Escalation(
            kind="critical_high_value",
            account_id=theirs,
            title="Theirs Corp: save offer",
            context={"account": "Theirs Corp", "arr": 90000.0, "owner": "other@attack.example"},
            proposed_action={"type": "special_offer", "discount_pct": 15, "months": 3},
            status="open",
            created_at=NOW,
            expires_at=NOW + timedelta(days=2),
        )
        s.add(escalation)
        s.add(
            ActionProposal(
                key=f"attack:{tag}",
                source="crew",
                action="crm_task",
                account_id=theirs,
                status="pending",
                model="m",
                proposal={"task": "Call", "reason": "theirs fell"},
                messages=[],
                reason="theirs fell",
                created_at=NOW,
            )
        )
        run_wave(
            s,
            settings=SurveySettings(max_per_account=10),
            secret=LINK,
            base_url="http://x",
            now=NOW - timedelta(minutes=1),
        )
        inv = s.execute(
            select(SurveyInvitation).where(SurveyInvitation.contact_id == contact)
        ).scalar_one()
        s.flush()
        ids = {
            "mine": f"MINE-{tag}",
            "theirs": f"THEIRS-{tag}",
            "theirs_id": theirs,
            "escalation": escalation.id,
            "survey": sign_survey_token(
                SurveyClaims(inv.nonce, inv.contact_id, inv.account_id, inv.kind, inv.expires_at),
                LINK,
            ),
        }
    engine.dispose()
    return ids


Check = Callable[[World], tuple[bool, str]]
CHECKS: list[tuple[str, Check]] = []


def check(name: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        CHECKS.append((name, fn))
        return fn

    return register


@check("signing out ends every copy of the session cookie")
def _logout(w: World) -> tuple[bool, str]:
    client = w.client("csm")
    copy = w.client()
    copy.cookies.set("successcrew_session", client.cookies["successcrew_session"])
    client.post("/logout", data={"csrf_token": w.csrf(client)})
    status = copy.get("/my-work").status_code
    return status == 303, f"saved cookie after logout: GET /my-work {status}"


@check("a csm does not read other owners' accounts on /decisions")
def _decisions(w: World) -> tuple[bool, str]:
    page = w.client("csm").get("/decisions").text
    leaked = [s for s in ("Theirs Corp", "theirs fell", "save offer") if s in page]
    return not leaked, f"leaked: {leaked or 'nothing'}"


@check("decision cards link to /accounts/<external id>")
def _links(w: World) -> tuple[bool, str]:
    page = w.client("lead").get("/decisions").text
    internal = re.findall(r'href="/accounts/(\d+)"', page)
    ok = not internal and f'href="/accounts/{w.ids["theirs"]}"' in page
    return ok, f"internal-id links: {internal or 'none'}"


@check("a csm gets 404 for another owner's account, as for no account")
def _not_yours(w: World) -> tuple[bool, str]:
    csm = w.client("csm")
    theirs = csm.get(f"/accounts/{w.ids['theirs']}").status_code
    missing = csm.get("/accounts/NO-SUCH-ACCOUNT").status_code
    return theirs == missing == 404, f"other owner's {theirs}, unknown {missing}"


def _status(send: Callable[[], httpx.Response]) -> int | str:
    """The answer's status, or what went wrong (a worker that died resets the connection)."""
    try:
        return send().status_code
    except httpx.HTTPError as exc:
        return type(exc).__name__


def _nested(n: int = 3000) -> bytes:
    return ("[" * n + "]" * n).encode()


@check("deeply nested JSON is 400 on every endpoint that reads JSON")
def _nesting(w: World) -> tuple[bool, str]:
    http = w.client()
    body = _nested()
    slack_body = urlencode({"payload": body.decode()}).encode()
    events = urlencode({"mandrill_events": body.decode()})
    sends: dict[str, Callable[[], httpx.Response]] = {
        "in-app": lambda: http.post(
            "/api/v1/surveys/in-app",
            content=body,
            headers={"Origin": ORIGIN, "Content-Type": "application/json"},
        ),
        "segment": lambda: http.post("/v1/track", content=body, auth=(WRITE_KEY, "")),
        "sendgrid": lambda: http.post(
            "/webhooks/sendgrid", content=body, headers=sendgrid_headers(w.sendgrid_key, body)
        ),
        "slack": lambda: http.post(
            "/slack/interactions", content=slack_body, headers=slack_headers(SLACK, slack_body)
        ),
        "mailchimp": lambda: http.post(
            "/webhooks/mailchimp",
            content=events,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Mandrill-Signature": mandrill_signature(
                    MANDRILL, f"{w.base}/webhooks/mailchimp", {"mandrill_events": body.decode()}
                ),
            },
        ),
    }
    codes = {k: _status(send) for k, send in sends.items()}
    return all(c == 400 for c in codes.values()), str(codes)


@check("odd survey scores and page numbers are never 500")
def _numbers(w: World) -> tuple[bool, str]:
    http, lead = w.client(), w.client("lead")
    token = w.ids["survey"]
    codes = {
        "GET score=²": _status(lambda: http.get(f"/survey/{token}", params={"score": "²"})),
        "POST score=²": _status(lambda: http.post(f"/survey/{token}", data={"score": "²"})),
        "POST 5000 digits": _status(
            lambda: http.post(f"/survey/{token}", data={"score": "5" * 5000})
        ),
        "page=10^23": _status(lambda: lead.get("/accounts?page=99999999999999999999999")),
    }
    return all(isinstance(c, int) and c < 500 for c in codes.values()), str(codes)


@check("ten wrong passwords across two workers: five 401s, then a wait of the minute")
def _login_limit(w: World) -> tuple[bool, str]:
    codes, wait = [], None
    for i in range(10):
        with httpx.Client(base_url=w.base, timeout=30) as fresh:
            answer = fresh.post(
                "/login",
                data={"email": USERS["viewer"], "password": f"x{i}"},
                headers={"Origin": w.base},
            )
        codes.append(answer.status_code)
        found = re.search(r"Wait (\d+) s", answer.text)
        if found and wait is None:
            wait = int(found.group(1))
    ok = codes == [401] * 5 + [429] * 5 and wait is not None and wait >= 50
    return ok, f"{codes.count(401)} x 401 before the limit, first wait {wait} s"


@check("a SendGrid event signed 30 days ago is refused")
def _sendgrid_age(w: World) -> tuple[bool, str]:
    event = [
        {
            "event": "delivered",
            "email": "old@customer.example",
            "timestamp": 1,
            "sg_event_id": uuid.uuid4().hex,
        }
    ]
    body = json.dumps(event).encode()
    old = str(int(time.time()) - 30 * 86400)
    answer = w.client().post(
        "/webhooks/sendgrid", content=body, headers=sendgrid_headers(w.sendgrid_key, body, ts=old)
    )
    stored = w.count(EmailEvent, EmailEvent.email == "old@customer.example")
    return answer.status_code == 403 and stored == 0, f"{answer.status_code}, stored {stored}"


@check("a replayed Slack click is audited once")
def _slack_replay(w: World) -> tuple[bool, str]:
    esc = w.ids["escalation"]
    payload = {
        "type": "block_actions",
        "user": {"id": "U0NOTADECIDER", "username": "x"},
        "actions": [{"action_id": "escalation_approve", "value": f"{esc}:approve"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    before = w.count(AuditLog, AuditLog.subject == f"escalation:{esc}")
    for _ in range(3):
        w.client().post("/slack/interactions", content=body, headers=slack_headers(SLACK, body))
    added = w.count(AuditLog, AuditLog.subject == f"escalation:{esc}") - before
    return added == 1, f"audit rows for 3 posts of one click: {added}"


@check("HSTS when a trusted proxy says the request came over HTTPS")
def _hsts(w: World) -> tuple[bool, str]:
    value = (
        w.client()
        .get("/login", headers={"X-Forwarded-Proto": "https"})
        .headers.get("strict-transport-security")
    )
    return value is not None, f"Strict-Transport-Security: {value}"


@check("RudderStack's identify (traits in context.traits) adds the contact")
def _rudder(w: World) -> tuple[bool, str]:
    tag = uuid.uuid4().hex[:6]
    user, group = f"u-{tag}", w.ids["mine"]
    calls = [
        {"type": "group", "userId": user, "groupId": group, "traits": {"name": "Mine Ltd"}},
        {
            "type": "identify",
            "userId": user,
            "context": {
                "traits": {"email": f"{tag}@mine.example"},
                "library": {"name": "analytics-python", "version": "2.1.9"},
            },
        },
    ]
    for call in calls:
        item = {"messageId": str(uuid.uuid4()), "channel": "server", "anonymousId": None, **call}
        body = gzip.compress(json.dumps({"batch": [item]}).encode())
        w.client().post(
            "/v1/batch",
            content=body,
            auth=(WRITE_KEY, ""),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
    stored = w.count(Contact, Contact.external_id == user)
    return stored == 1, f"contacts stored: {stored}"


@check("a call dropped for missing data is counted in /metrics")
def _dropped(w: World) -> tuple[bool, str]:
    item = {
        "type": "identify",
        "userId": "u-nomail",
        "messageId": str(uuid.uuid4()),
        "traits": {"name": "No Mail"},
    }
    answer = w.client().post("/v1/batch", json={"batch": [item]}, auth=(WRITE_KEY, ""))
    metrics = w.client().get("/metrics").text
    counted = 'successcrew_product_events_dropped_total{reason="identify_without_user_or_email"}'
    return counted in metrics, f"answer {answer.json()}, metric present: {counted in metrics}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        url = stack.enter_context(
            module_database("postgresql" if args.postgres else "sqlite", folder, None)
        )
        ids = seed(url)
        project = folder / "project" / "config"
        project.mkdir(parents=True)
        policy = definition_path("config", "escalation.yaml").read_text()
        (project / "escalation.yaml").write_text(
            policy.replace("deciders: []", f"deciders: [{CHAIR}]")
        )
        private, public = sendgrid_keypair()
        port = free_port()
        env = base_env(
            url,
            SUCCESSCREW_PROJECT_DIR=str(folder / "project"),
            SUCCESSCREW_SESSION_SECRET="attack-session-secret-0123456789abcdef",
            SUCCESSCREW_SURVEY_SECRET=LINK,
            SUCCESSCREW_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
            SUCCESSCREW_SENDGRID_WEBHOOK_PUBLIC_KEY=public,
            SUCCESSCREW_MAILCHIMP_WEBHOOK_KEY=MANDRILL,
            SUCCESSCREW_SEGMENT_WRITE_KEY=WRITE_KEY,
            SUCCESSCREW_SLACK_SIGNING_SECRET=SLACK,
            SUCCESSCREW_SURVEY_ALLOWED_ORIGINS=ORIGIN,
            SUCCESSCREW_IN_APP_SECRET=IN_APP,
        )
        served = start_serve(env, folder, "--workers", "2", port=port, timeout=90)
        world = World(served.base, url, private)
        world.ids = ids
        found = 0
        try:
            for name, fn in CHECKS:
                try:
                    ok, detail = fn(world)
                except Exception as exc:  # a check that cannot run is a finding too
                    ok, detail = False, f"{type(exc).__name__}: {exc}"
                found += not ok
                print(f"{'ok   ' if ok else 'FOUND'}  {name}: {detail}")
        finally:
            world.engine.dispose()
            stop_serve(served)
        print(f"{len(CHECKS) - found} of {len(CHECKS)} checks pass; {found} finding(s) remain")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
