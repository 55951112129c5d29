"""Every inbound endpoint and page parameter, fed what nobody should send: JSON nested thousands
deep, unicode digits (``²``, Arabic-Indic and mathematical digits), numbers of 5,000 digits, wrong types where strings and
objects belong. Property tests (Hypothesis, bounded): the answer is never a 500, and malformed
input changes no row of any table.

Requests that pass their signature or key are signed the way the provider signs them: the
parsers behind the signature are what is tested. One app (FastAPI's TestClient, the app
``serve`` runs) per database for the whole module.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select

from successcrew.definitions.playbooks import SurveySettings
from successcrew.domain.survey_tokens import SurveyClaims, sign_survey_token
from successcrew.services.messaging.links import unsubscribe_url
from successcrew.services.platform.users import add_user
from successcrew.services.voice.surveys import run_wave
from successcrew.settings import Settings
from successcrew.store.db import make_engine, transaction
from successcrew.store.models import Account, Contact, SurveyInvitation
from successcrew.web.application import create_app
from tests.rowcounts import row_counts
from tests.serving import module_database
from tests.signing import mandrill_signature, sendgrid_headers, sendgrid_keypair, slack_headers

NOW = datetime.now(UTC).replace(microsecond=0)
LINK_SECRET = "malformed-input-link-secret"
SLACK_SECRET = "malformed-input-slack-secret"
MANDRILL_KEY = "malformed-input-mandrill-key"
WRITE_KEY = "malformed-input-write-key"
IN_APP_SECRET = "malformed-input-in-app-secret"
ORIGIN = "https://app.example.com"
PASSWORD = "malformed input password"
BASE = "http://testserver"
#: Examples per property: enough to hit every kind of oddity below, small enough for CI.
EXAMPLES = 30
FAST = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@dataclass
class Web:
    """The app on one database, signed-in clients and the links it issued."""

    client: TestClient
    lead: TestClient
    csm: TestClient
    engine: Engine
    sendgrid_key: Any
    survey_token: str
    unsubscribe_token: str
    account: str

    def counts(self) -> dict[str, int]:
        return row_counts(self.engine)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def web(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    folder: Path = tmp_path_factory.mktemp(f"malformed-{request.param}")
    template = request.getfixturevalue("sqlite_template") if request.param == "sqlite" else None
    with module_database(request.param, folder, template) as url:
        engine = make_engine(url, immediate=True)
        private, public = sendgrid_keypair()
        tag = uuid.uuid4().hex[:6]
        with transaction(engine) as s:
            for email, role in (("lead@example.com", "lead"), ("csm@example.com", "csm")):
                add_user(
                    s, email, role=role, name=None, password=PASSWORD, by="t", now=NOW, cost="low"
                )
            account = s.execute(
                insert(Account)
                .values(
                    external_id=f"A-{tag}",
                    name="Odd Input Ltd",
                    owner_email="csm@example.com",
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(Account.id)
            ).scalar_one()
            contact = s.execute(
                insert(Contact)
                .values(
                    external_id=f"C-{tag}",
                    account_id=account,
                    email=f"c.{tag}@customer.example",
                    survey_consent=True,
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(Contact.id)
            ).scalar_one()
            run_wave(
                s,
                settings=SurveySettings(max_per_account=10),
                secret=LINK_SECRET,
                base_url=BASE,
                now=NOW - timedelta(minutes=1),
            )
            inv = s.execute(
                select(SurveyInvitation).where(SurveyInvitation.contact_id == contact)
            ).scalar_one()
            token = sign_survey_token(
                SurveyClaims(inv.nonce, inv.contact_id, inv.account_id, inv.kind, inv.expires_at),
                LINK_SECRET,
            )
        unsubscribe = unsubscribe_url(BASE, LINK_SECRET, contact, "survey:nps").rsplit("/", 1)[1]
        config = Settings(
            database_url=url,
            session_secret="malformed-input-session-secret-0123456789",
            public_base_url=BASE,
            survey_secret=LINK_SECRET,
            sendgrid_webhook_public_key=public,
            mailchimp_webhook_key=MANDRILL_KEY,
            segment_write_key=WRITE_KEY,
            slack_signing_secret=SLACK_SECRET,
            survey_allowed_origins=ORIGIN,
            in_app_secret=IN_APP_SECRET,
            in_app_rate_per_minute=100_000,
            login_rate_per_minute=100_000,
        )
        app = create_app(config, engine=engine, clock=lambda: NOW)
        with (
            TestClient(app, base_url=BASE, raise_server_exceptions=False) as client,
            TestClient(app, base_url=BASE, raise_server_exceptions=False) as lead,
            TestClient(app, base_url=BASE, raise_server_exceptions=False) as csm,
        ):
            for signed_in, email in ((lead, "lead@example.com"), (csm, "csm@example.com")):
                signed_in.headers["Origin"] = BASE
                answer = signed_in.post(
                    "/login", data={"email": email, "password": PASSWORD}, follow_redirects=False
                )
                assert answer.status_code == 303, answer.text[:300]
            yield Web(client, lead, csm, engine, private, token, unsubscribe, f"A-{tag}")
        engine.dispose()


# --- what nobody should send --------------------------------------------------------------------

#: Digits Python's ``str.isdigit`` accepts and ``int`` may not, and numbers no column can hold.
ODD_NUMBERS = [
    "²",
    "\u0661\u0662",  # Arabic-Indic 12
    "\U0001d7d3",  # mathematical bold 5
    "5" * 5000,
    "99999999999999999999999",
    "-1",
    "1e400",
    "nan",
    "inf",
    "0x10",
    " 7 ",
    "",
    "\x00",
    "1_000",
    "+3",
    "3.0",
]
odd_text = st.one_of(st.sampled_from(ODD_NUMBERS), st.text(max_size=40))


def _nest(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


#: JSON no parser should recurse into: arrays and objects thousands deep (fits 8 KB at 2,000).
deep_json = st.builds(
    _nest, st.sampled_from([70, 1_000, 2_000, 3_000]), st.sampled_from(["list", "dict"])
)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
#: A value of the wrong type for a field that wants a string (or a number).
wrong_type = st.one_of(
    st.none(),
    st.booleans(),
    st.lists(json_leaf, max_size=2),
    st.dictionaries(st.text(max_size=4), json_leaf, max_size=2),
    st.builds(lambda d: json.loads(_nest(d, "list")), st.sampled_from([5, 40])),
)
#: Bodies that are not the JSON the endpoint takes at all.
not_json = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"", b"{", b"[1,", b"\xff\xfe", b"null", b'"text"', b"1e999999"]),
)


def _corrupt(
    valid: dict[str, Any] | st.SearchStrategy[dict[str, Any]], fields: list[str]
) -> st.SearchStrategy[dict[str, Any]]:
    """A ``valid`` call or event with one of ``fields`` given a value of the wrong type, plus
    stray fields."""

    def build(base: dict[str, Any], name: str, value: Any, extra: dict[str, Any]) -> dict[str, Any]:
        return {**extra, **base, name: value}

    return st.builds(
        build,
        valid if isinstance(valid, st.SearchStrategy) else st.just(valid),
        st.sampled_from(fields),
        wrong_type,
        st.dictionaries(st.text(min_size=1, max_size=5), json_value, max_size=2),
    )


ids = st.uuids().map(lambda u: u.hex)


def _unchanged(web: Web, before: dict[str, int], *, except_: tuple[str, ...] = ()) -> None:
    after = web.counts()
    changed = {
        t: (before[t], after[t]) for t in before if before[t] != after[t] and t not in except_
    }
    assert not changed, f"malformed input changed rows: {changed}"


def _no_500(answer: Any) -> None:
    assert answer.status_code < 500, (answer.status_code, answer.text[:500])


# --- surveys, unsubscribe, the in-app API -------------------------------------------------------


@FAST
@given(score=odd_text)
def test_survey_links_take_any_score_without_a_500(web: Web, score: str) -> None:
    before = web.counts()
    page = web.client.get(f"/survey/{web.survey_token}?" + urlencode({"score": score}))
    _no_500(page)
    # The page, without a score chosen; a NUL in the address is refused outright.
    assert page.status_code == (400 if "\x00" in score else 200)
    if score.strip() in {str(n) for n in range(11)}:
        return  # a valid score: a POST would record it
    answer = web.client.post(f"/survey/{web.survey_token}", data={"score": score, "comment": "x"})
    _no_500(answer)
    assert answer.status_code == 400
    _unchanged(web, before)


@FAST
@given(token=st.text(max_size=300), score=odd_text)
def test_survey_and_unsubscribe_tokens_of_any_shape_are_refused(
    web: Web, token: str, score: str
) -> None:
    before = web.counts()
    path = quote(token or "x", safe="")
    for answer in (
        web.client.get(f"/survey/{path}?" + urlencode({"score": score})),
        web.client.post(f"/survey/{path}", data={"score": "5"}),
        web.client.get(f"/unsubscribe/{path}"),
        web.client.post(f"/unsubscribe/{path}", content=score.encode()),
    ):
        _no_500(answer)
    _unchanged(web, before)


@FAST
@given(
    body=st.one_of(
        deep_json.map(str.encode),
        not_json,
        json_value.map(lambda v: json.dumps(v).encode()),
        _corrupt({"token": "x" * 20, "score": 5}, ["token", "score", "comment"]).map(
            lambda v: json.dumps(v).encode()
        ),
        st.sampled_from(ODD_NUMBERS).map(
            lambda n: f'{{"token": "{"x" * 20}", "score": {n or 1}}}'.encode()
        ),
    ),
    user=odd_text,
)
def test_the_in_app_api_refuses_malformed_answers_with_400(
    web: Web, body: bytes, user: str
) -> None:
    before = web.counts()
    headers = {"Origin": ORIGIN, "Content-Type": "application/json"}
    answer = web.client.post("/api/v1/surveys/in-app", content=body, headers=headers)
    _no_500(answer)
    assert answer.status_code in (400, 404, 413), answer.text
    question = web.client.get(
        "/api/v1/surveys/in-app?" + urlencode({"user": user, "user_hash": user}), headers=headers
    )
    _no_500(question)
    _unchanged(web, before)


# --- provider webhooks, signed ------------------------------------------------------------------


sendgrid_event = st.builds(
    lambda event_id: {
        "event": "delivered",
        "email": "someone@customer.example",
        "timestamp": int(NOW.timestamp()),
        "sg_event_id": event_id,
    },
    ids,
)


sendgrid_bodies = st.one_of(
    deep_json.map(str.encode),
    not_json,
    json_value.filter(lambda v: not isinstance(v, list)).map(lambda v: json.dumps(v).encode()),
    st.lists(
        # A null sg_event_id is an absent one (the event is then keyed by a digest): not wrong.
        _corrupt(sendgrid_event, ["event", "email", "timestamp", "sg_event_id"]).filter(
            lambda event: event["sg_event_id"] is not None
        ),
        min_size=1,
        max_size=3,
    ).map(lambda v: json.dumps(v).encode()),
)


@FAST
@given(body=sendgrid_bodies)
def test_sendgrid_events_of_any_shape_store_nothing_malformed(web: Web, body: bytes) -> None:
    before = web.counts()
    headers = sendgrid_headers(web.sendgrid_key, body)
    answer = web.client.post("/webhooks/sendgrid", content=body, headers=headers)
    _no_500(answer)
    _unchanged(web, before)


def _mandrill_event(message_id: str = "m-1") -> dict[str, Any]:
    return {
        "event": "delivered",
        "ts": int(NOW.timestamp()),
        "_id": message_id,
        "msg": {"email": "someone@customer.example", "metadata": {}},
    }


mandrill_event = st.builds(_mandrill_event, ids)


@FAST
@given(
    events=st.one_of(
        deep_json,
        st.text(max_size=50),
        st.lists(
            _corrupt(mandrill_event, ["event", "ts", "msg", "_id"]), min_size=1, max_size=3
        ).map(json.dumps),
        st.lists(
            _corrupt({"email": "x@customer.example"}, ["email"]).map(
                lambda msg: {
                    **_mandrill_event(uuid.uuid5(uuid.NAMESPACE_OID, repr(msg)).hex),
                    "msg": msg,
                }
            ),
            min_size=1,
            max_size=2,
        ).map(json.dumps),
    )
)
def test_mailchimp_events_of_any_shape_store_nothing_malformed(web: Web, events: str) -> None:
    before = web.counts()
    url = f"{BASE}/webhooks/mailchimp"
    params = {"mandrill_events": events}
    headers = {
        "X-Mandrill-Signature": mandrill_signature(MANDRILL_KEY, url, params),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    answer = web.client.post("/webhooks/mailchimp", content=urlencode(params), headers=headers)
    _no_500(answer)
    _unchanged(web, before)


def _click() -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": "U0SOMEONE", "username": "someone"},
        "actions": [{"action_id": "escalation_approve", "value": "1:approve", "type": "button"}],
    }


@FAST
@given(
    payload=st.one_of(
        deep_json,
        st.text(max_size=50),
        json_value.map(json.dumps),
        _corrupt(_click(), ["user", "actions", "type"]).map(json.dumps),
        _corrupt({"id": "U0SOMEONE"}, ["id"]).map(lambda u: json.dumps({**_click(), "user": u})),
    )
)
def test_slack_payloads_of_any_shape_change_nothing(web: Web, payload: str) -> None:
    before = web.counts()
    body = urlencode({"payload": payload}).encode()
    answer = web.client.post(
        "/slack/interactions", content=body, headers=slack_headers(SLACK_SECRET, body)
    )
    _no_500(answer)
    _unchanged(web, before)


# --- Segment-compatible product events ----------------------------------------------------------


def _call(kind: str, message_id: str) -> dict[str, Any]:
    return {
        "type": kind,
        "userId": f"u-{message_id[:8]}",
        "groupId": "G-odd",
        "event": "Report Created",
        "traits": {"email": "someone@customer.example", "name": "Someone"},
        "messageId": message_id,
    }


@FAST
@given(
    kind=st.sampled_from(["batch", "track", "identify", "group", "page"]),
    body=st.one_of(deep_json.map(str.encode), not_json),
)
def test_segment_bodies_that_are_not_calls_are_400(web: Web, kind: str, body: bytes) -> None:
    before = web.counts()
    answer = web.client.post(
        f"/v1/{kind}",
        content=body,
        auth=(WRITE_KEY, ""),
        headers={"Content-Type": "application/json"},
    )
    _no_500(answer)
    assert answer.status_code == 400, answer.text
    _unchanged(web, before)


@FAST
@given(
    calls=st.lists(
        st.sampled_from(["track", "identify", "group"]).flatmap(
            lambda kind: _corrupt(
                st.builds(lambda m: {**_call(kind, m), "anonymousId": None}, ids), ["userId"]
            )
        ),
        min_size=1,
        max_size=3,
    ),
    wrapper=st.one_of(st.none(), wrong_type),
)
def test_segment_calls_with_wrong_types_store_nothing(
    web: Web, calls: list[dict[str, Any]], wrapper: Any
) -> None:
    before = web.counts()
    body: dict[str, Any] = {"batch": calls}
    if wrapper is not None:
        body["context"] = wrapper
    answer = web.client.post("/v1/batch", json=body, auth=(WRITE_KEY, ""))
    _no_500(answer)
    # A call's messageId is recorded even when the call is dropped, so a retry of it is
    # recognised; nothing else may change.
    _unchanged(web, before, except_=("inbound_receipts",))


# --- the dashboard's pages and forms ------------------------------------------------------------

PAGES: dict[str, tuple[str, ...]] = {
    "/": ("drop",),
    "/accounts": ("page", "renewal", "band", "sort", "dir", "q", "owner", "segment", "plan"),
    "/accounts.csv": ("page", "renewal", "sort", "dir"),
    "/my-work": ("done",),
    "/decisions": ("done",),
    "/programs": ("done",),
    "/nps": ("done", "window"),
    "/operations": ("done",),
    "/operations/report": ("week",),
}


@FAST
@given(
    path=st.sampled_from(sorted(PAGES)),
    values=st.lists(odd_text, min_size=1, max_size=3),
    role=st.sampled_from(["lead", "csm"]),
)
def test_every_page_parameter_answers_400_at_worst(
    web: Web, path: str, values: list[str], role: str
) -> None:
    client = web.lead if role == "lead" else web.csm
    params = dict(zip(PAGES[path], values, strict=False))
    answer = client.get(path + "?" + urlencode(params))
    _no_500(answer)
    assert answer.status_code in (200, 400), (path, params, answer.status_code)


@FAST
@given(
    path=st.sampled_from(["/login", "/login/oidc", "/login/oidc/callback"]),
    values=st.lists(odd_text, min_size=1, max_size=3),
)
def test_the_sign_in_pages_take_any_parameter_without_a_500(
    web: Web, path: str, values: list[str]
) -> None:
    params = dict(zip(("next", "code", "state"), values, strict=False))
    for client in (web.client, web.lead):
        answer = client.get(path + "?" + urlencode(params), follow_redirects=False)
        _no_500(answer)


FORMS: list[tuple[str, Callable[[Web, str], str]]] = [
    ("/my-work/{id}", lambda w, v: f"/my-work/{quote(v, safe='')}"),
    ("/decisions/escalations/{id}", lambda w, v: f"/decisions/escalations/{quote(v, safe='')}"),
    ("/decisions/proposals/{id}", lambda w, v: f"/decisions/proposals/{quote(v, safe='')}"),
    (
        "/operations/dead-letters/{id}/retry",
        lambda w, v: f"/operations/dead-letters/{quote(v, safe='')}/retry",
    ),
    ("/nps/comments/{id}/categories", lambda w, v: f"/nps/comments/{quote(v, safe='')}/categories"),
    ("/accounts/{id}/override", lambda w, v: f"/accounts/{w.account}/override"),
]


@FAST
@given(form=st.sampled_from(FORMS), value=odd_text, field=odd_text)
def test_every_form_takes_odd_ids_and_fields_without_a_500(
    web: Web, form: tuple[str, Callable[[Web, str], str]], value: str, field: str
) -> None:
    token = _csrf(web.lead)
    before = web.counts()
    data = {
        "csrf_token": token,
        "action": field,
        "decision": field,
        "until": field,
        "score": field,
        "reason": "",
        "expires": field,
        "categories": field,
    }
    answer = web.lead.post(form[1](web, value or "0"), data=data, follow_redirects=False)
    _no_500(answer)
    assert answer.status_code in (400, 403, 404, 409), (form[0], value, answer.status_code)
    _unchanged(web, before)


@settings(FAST, max_examples=15)  # each example hashes a password: fewer, same reach
@given(email=odd_text, password=odd_text, next_=odd_text)
def test_the_sign_in_form_takes_anything_without_a_500(
    web: Web, email: str, password: str, next_: str
) -> None:
    before = web.counts()
    answer = web.client.post(
        "/login",
        data={"email": email, "password": password, "next": next_},
        headers={"Origin": BASE},
        follow_redirects=False,
    )
    _no_500(answer)
    assert answer.status_code in (400, 401, 429), answer.status_code
    # A failed sign-in is counted (the login limits); nothing else changes.
    _unchanged(web, before, except_=("login_failures",))


def _csrf(client: TestClient) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/my-work").text)
    assert found
    return found.group(1)


def test_the_inputs_the_attack_session_found_are_400(web: Web) -> None:
    """The cases of the issue, named: the properties above may or may not draw them."""
    before = web.counts()
    nested = ("[" * 3000 + "]" * 3000).encode()
    in_app = web.client.post(
        "/api/v1/surveys/in-app",
        content=nested,
        headers={"Origin": ORIGIN, "Content-Type": "application/json"},
    )
    assert in_app.status_code == 400 and "nested deeper than" in in_app.json()["error"]
    segment = web.client.post("/v1/track", content=nested, auth=(WRITE_KEY, ""))
    assert segment.status_code == 400 and "nested deeper than" in segment.json()["message"]
    sendgrid = web.client.post(
        "/webhooks/sendgrid", content=nested, headers=sendgrid_headers(web.sendgrid_key, nested)
    )
    assert sendgrid.status_code == 400
    body = urlencode({"payload": nested.decode()}).encode()
    slack = web.client.post(
        "/slack/interactions", content=body, headers=slack_headers(SLACK_SECRET, body)
    )
    assert slack.status_code == 400
    for score in ("²", "5" * 5000):
        assert web.client.get(f"/survey/{web.survey_token}?score={score}").status_code == 200
        posted = web.client.post(f"/survey/{web.survey_token}", data={"score": score})
        assert posted.status_code == 400
        assert "Please choose a score from 0 to 10" in posted.text
    page = web.lead.get("/accounts?page=99999999999999999999999")
    assert page.status_code == 400
    assert "99999999999999999999999&#39;: must be a whole number from 1 to 1000000" in page.text
    assert (
        web.lead.post(
            "/my-work/99999999999999999999999", data={"csrf_token": _csrf(web.lead)}
        ).status_code
        == 400
    )
    _unchanged(web, before)
