"""LangChain single structured calls behind the ``Assistant`` protocol: briefs, e-mail drafts,
comment readings, the report's summary.

Each request: the cache first (sha256 of model, prompt version and inputs; in memory for the
run, in the database across runs); then the budget; then one ``with_structured_output`` call;
the answer is validated (schema, then the checks of its model class: lengths, no money, no
addresses, figures that were given) and, when unusable, asked for once more with the reason;
after that, or on any transport error, the request falls back and the fallback is recorded.
Nothing here raises for a model's failure.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, SecretStr

from successcrew.llm import prompts
from successcrew.llm.schemas import (
    AccountBriefOut,
    CommentReadingsOut,
    EmailDraftOut,
    ReportSummaryOut,
)
from successcrew.llm.spend import Spend
from successcrew.services.model.assistant import (
    AccountFacts,
    Brief,
    CommentReading,
    CommentText,
    Draft,
    DraftRequest,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from successcrew.settings import Settings

#: Attempts per request: the first answer and one more after saying what was wrong with it.
ATTEMPTS = 2
#: Comments per call.
COMMENT_BATCH = 20
OPENAI_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class ModelConfig:
    """The model settings, read once per command."""

    model: str
    base_url: str
    api_key: SecretStr | None
    max_calls: int
    max_tokens: int
    timeout: float
    method: str
    crew_mode: str
    data_dir: Path

    @classmethod
    def from_settings(cls, settings: Settings, *, crew_mode: str | None = None) -> ModelConfig:
        """From ``SUCCESSCREW_LLM_*`` (an empty base URL means OpenAI's)."""
        from successcrew.llm.offline import data_dir

        return cls(
            model=settings.llm_model,
            base_url=settings.llm_base_url or OPENAI_URL,
            api_key=settings.llm_api_key,
            max_calls=settings.llm_max_calls,
            max_tokens=settings.llm_max_tokens,
            timeout=settings.llm_timeout_seconds,
            method=settings.llm_structured_method,
            crew_mode=crew_mode or settings.crew_mode,
            data_dir=data_dir(settings.resolved_database_url()),
        )

    def redact(self, text: str) -> str:
        """``text`` with the API key removed (a server may echo what it was sent)."""
        if self.api_key is not None and self.api_key.get_secret_value():
            text = text.replace(self.api_key.get_secret_value(), "***")
        return text

    def secret(self) -> str:
        """The key to send (local servers take any)."""
        return self.api_key.get_secret_value() if self.api_key is not None else "not-needed"


def cache_key(model: str, purpose: str, inputs: Any) -> str:
    """sha256 of model, prompt version and inputs."""
    blob = json.dumps(
        {"model": model, "prompt": prompts.VERSIONS[purpose], "inputs": inputs},
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


class ModelAssistant:
    """The ``Assistant`` the command line installs when a model is configured."""

    def __init__(self, config: ModelConfig, engine: Engine, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.model = config.model
        # Reads the cache while a task may hold SQLite's write lock: a plain (deferred) engine.
        self.engine = engine
        self.spend = Spend(config.max_calls, config.max_tokens)
        self._memo: dict[str, dict[str, Any]] = {}
        self._new: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._chat_model: Any = None

    # -- plumbing ---------------------------------------------------------------------------

    def chat_model(self) -> Any:
        """ChatOpenAI for the configured endpoint (LangChain imported here, on first use)."""
        if self._chat_model is None:
            from successcrew.llm.offline import prepare_langchain

            prepare_langchain()
            from langchain_openai import ChatOpenAI

            self._chat_model = ChatOpenAI(
                model=self.config.model,
                base_url=self.config.base_url,
                api_key=SecretStr(self.config.secret()),
                timeout=self.config.timeout,
                max_retries=1,
                temperature=0,
            )
        return self._chat_model

    def _cached(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        from successcrew.services.model.records import cached_outputs

        with self._lock:
            found = {k: self._memo[k] for k in keys if k in self._memo}
        missing = [k for k in keys if k not in found]
        if missing:
            stored = cached_outputs(self.engine, missing)
            with self._lock:
                self._memo.update(stored)
            found.update(stored)
        return found

    def _remember(self, key: str, purpose: str, output: dict[str, Any]) -> None:
        with self._lock:
            self._memo[key] = output
            self._new[key] = {
                "key": key,
                "purpose": purpose,
                "model": self.model,
                "prompt_version": prompts.VERSIONS[purpose],
                "output": output,
            }

    def ask(
        self,
        purpose: str,
        schema: type[BaseModel],
        system: str,
        user: str,
        check: Callable[[Any], list[str]],
    ) -> Any | None:
        """One structured call with one more attempt on an unusable answer; None = fall back."""
        from langchain_core.exceptions import OutputParserException
        from langchain_core.messages import HumanMessage, SystemMessage
        from pydantic import ValidationError

        messages: list[Any] = [SystemMessage(system), HumanMessage(user)]
        runnable = self.chat_model().with_structured_output(
            schema, method=self.config.method, include_raw=True
        )
        error = "no answer"
        for _ in range(ATTEMPTS):
            spent = self.spend.reserve()
            if spent is not None:
                self.spend.fell_back(purpose, spent)
                return None
            sent = sum(len(str(m.content)) for m in messages) // 4
            try:
                out = runnable.invoke(messages)
            except (ValidationError, OutputParserException, json.JSONDecodeError) as exc:
                # json_schema: the SDK validates inside the call, so the usage is lost; count
                # the prompt as sent.
                self.spend.used(sent, 0)
                error = f"the answer does not match the schema ({_first_line(exc)})"
            except Exception as exc:  # transport, HTTP status, timeout: the client retried once
                self.spend.used(sent, 0)
                self.spend.fell_back(purpose, self.config.redact(_first_line(exc)))
                return None
            else:
                usage = getattr(out["raw"], "usage_metadata", None) or {}
                self.spend.used(usage.get("input_tokens", sent), usage.get("output_tokens", 0))
                parsed = out.get("parsed")
                if parsed is None or out.get("parsing_error") is not None:
                    error = f"the answer does not match the schema ({out.get('parsing_error')})"
                else:
                    problems = check(parsed)
                    if not problems:
                        return parsed
                    error = "; ".join(problems)
            messages.append(
                HumanMessage(
                    f"That answer could not be used: {error[:500]}. Answer again with JSON that "
                    "follows the schema and the rules."
                )
            )
        self.spend.fell_back(purpose, f"unusable answer after {ATTEMPTS} attempts: {error}")
        return None

    # -- the protocol -------------------------------------------------------------------------

    def account_briefs(self, accounts: Sequence[AccountFacts], *, purpose: str) -> dict[int, Brief]:
        """One call per account not in the cache; the brief must quote only given figures."""
        keyed = {cache_key(self.model, "brief", a.as_dict()): a for a in accounts}
        found = self._cached(list(keyed))
        out: dict[int, Brief] = {}
        for key, facts in keyed.items():
            if key in found:
                self.spend.hit()
                parsed = AccountBriefOut.model_validate(found[key])
            else:
                system, user = prompts.brief(facts.figures, facts.comments)

                def check(b: AccountBriefOut, given: str = user) -> list[str]:
                    made_up = prompts.unquoted_numbers(b.all_text(), given)
                    figures = [f"figures not in the facts: {', '.join(made_up)}"] if made_up else []
                    return b.problems() + figures

                parsed = self.ask(purpose, AccountBriefOut, system, user, check)
                if parsed is None:
                    continue
                self._remember(key, "brief", parsed.model_dump())
            out[facts.account_id] = Brief(
                why=parsed.why_at_risk,
                changed=parsed.what_changed,
                next_step=parsed.next_step,
                evidence=tuple(parsed.evidence),
                model=self.model,
            )
        return out

    def email_drafts(self, requests: Sequence[DraftRequest]) -> dict[str, Draft]:
        """One call per e-mail not in the cache."""
        keyed = {
            cache_key(self.model, "draft", [r.account.as_dict(), r.subject, r.body]): r
            for r in requests
        }
        found = self._cached(list(keyed))
        out: dict[str, Draft] = {}
        for key, r in keyed.items():
            if key in found:
                self.spend.hit()
                parsed = EmailDraftOut.model_validate(found[key])
            else:
                system, user = prompts.draft(
                    r.account.figures, r.account.comments, r.subject, r.body
                )
                parsed = self.ask("draft", EmailDraftOut, system, user, EmailDraftOut.problems)
                if parsed is None:
                    continue
                self._remember(key, "draft", parsed.model_dump())
            out[r.key] = Draft(subject=parsed.subject, body=parsed.body, model=self.model)
        return out

    def read_comments(
        self, comments: Sequence[CommentText], categories: Sequence[str]
    ) -> dict[int, CommentReading]:
        """Batches of comments per call; each reading cached under its own comment."""
        cats = sorted(categories)
        keyed = {
            c.response_id: cache_key(self.model, "comments", [c.text, c.score, cats])
            for c in comments
        }
        found = self._cached(list(keyed.values()))
        out: dict[int, CommentReading] = {}
        todo = []
        for c in comments:
            hit = found.get(keyed[c.response_id])
            if hit is not None:
                self.spend.hit()
                out[c.response_id] = self._reading(hit)
            else:
                todo.append(c)
        for start in range(0, len(todo), COMMENT_BATCH):
            batch = todo[start : start + COMMENT_BATCH]
            system, user = prompts.comments([(c.response_id, c.score, c.text) for c in batch], cats)
            ids, known = {c.response_id for c in batch}, set(cats)

            def check(
                r: CommentReadingsOut, ids: set[int] = ids, known: set[str] = known
            ) -> list[str]:
                return r.problems(ids, known)

            parsed = self.ask("comments", CommentReadingsOut, system, user, check)
            if parsed is None:
                continue
            for reading in parsed.readings:
                stored = reading.model_dump(exclude={"id"})
                self._remember(keyed[reading.id], "comments", stored)
                out[reading.id] = self._reading(stored)
        return out

    def _reading(self, stored: Mapping[str, Any]) -> CommentReading:
        return CommentReading(
            categories=tuple(stored["categories"]),
            sentiment=float(stored["sentiment"]),
            confidence=float(stored["confidence"]),
            model=self.model,
        )

    def report_summary(self, figures: Mapping[str, Any]) -> str | None:
        """The report's summary, quoting only its figures."""
        key = cache_key(self.model, "report", dict(figures))
        found = self._cached([key])
        if key in found:
            self.spend.hit()
            return str(found[key]["summary"])
        system, user = prompts.report(figures)

        def check(r: ReportSummaryOut) -> list[str]:
            made_up = prompts.unquoted_numbers(r.summary, user)
            return r.problems() + (
                [f"figures not in the report: {', '.join(made_up)}"] if made_up else []
            )

        parsed = self.ask("report", ReportSummaryOut, system, user, check)
        if parsed is None:
            return None
        self._remember(key, "report", parsed.model_dump())
        return parsed.summary

    def review(self, engine: Engine, *, now: datetime, crew_run_id: int | None) -> dict[str, Any]:
        """Crew mode: the crewAI agents review the day's risks (nothing in deterministic mode)."""
        if self.config.crew_mode != "crewai":
            return {}
        from successcrew.llm.crew_mode import review

        return review(self, engine, now=now, crew_run_id=crew_run_id)

    def finish(
        self, engine: Engine, *, now: datetime, crew_run_id: int | None, command: str
    ) -> dict[str, Any]:
        """Write the new cache entries and the usage row; start a new budget."""
        from successcrew.services.model.records import record

        if self.spend.idle() and command != "run":
            return {}
        with self._lock:
            outputs = [{**row, "created_at": now} for row in self._new.values()]
            self._new.clear()
        spent = self.spend.take()
        usage = {
            "crew_run_id": crew_run_id,
            "command": command,
            "model": self.model,
            "calls": spent["calls"],
            "prompt_tokens": spent["prompt_tokens"],
            "completion_tokens": spent["completion_tokens"],
            "cache_hits": spent["cache_hits"],
            "fallbacks": spent["fallbacks"],
            "detail": {"fallback_reasons": spent["fallback_reasons"]},
            "recorded_at": now,
        }
        record(engine, outputs=outputs, usage=usage)
        return {k: v for k, v in usage.items() if k not in ("recorded_at", "detail")} | {
            "fallback_reasons": spent["fallback_reasons"]
        }
