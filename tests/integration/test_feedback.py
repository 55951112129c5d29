"""Comment sentiment and categories; manual corrections survive later runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from successcrew.definitions.feedback_categories import load_taxonomy
from successcrew.errors import InputError
from successcrew.services.voice.feedback import categorise_responses, correct_categories
from successcrew.store.db import transaction
from successcrew.store.models import Account, AuditLog, NpsResponse

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_categorise_then_correct_and_rerun_keeps_correction(engine: Engine) -> None:
    taxonomy = load_taxonomy()
    with transaction(engine) as s:
        s.add(Account(id=1, external_id="A1", name="A", created_at=NOW, updated_at=NOW))
        s.flush()
        for i, comment in enumerate(
            ["Too expensive for what we use", "Pages are really slow to load", None], start=1
        ):
            s.add(
                NpsResponse(
                    id=i,
                    natural_key=f"k{i}",
                    account_id=1,
                    score=4,
                    comment=comment,
                    responded_at=NOW,
                )
            )
    with transaction(engine) as s:
        assert categorise_responses(s, taxonomy.categoriser()) == {"read": 2, "categorised": 2}
    with transaction(engine) as s:
        assert categorise_responses(s, taxonomy.categoriser()) == {"read": 0, "categorised": 0}
        correct_categories(
            s, 2, ["bugs", "performance"], known=taxonomy.categories, actor="lead", now=NOW
        )
        with pytest.raises(InputError, match="unknown nonsense"):
            correct_categories(s, 2, ["nonsense"], known=taxonomy.categories, actor="x", now=NOW)
    with transaction(engine) as s:
        categorise_responses(s, taxonomy.categoriser(), everything=True)
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(NpsResponse))}
        audit_row = conn.execute(select(AuditLog)).one()
    assert rows[1].categories == ["pricing"] and rows[1].sentiment is not None
    assert rows[2].categories == ["performance"]
    assert rows[2].categories_manual == ["bugs", "performance"]
    assert rows[3].categories is None
    assert audit_row.action == "feedback.correct" and audit_row.detail["after"] == [
        "bugs",
        "performance",
    ]
