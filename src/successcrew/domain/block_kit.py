"""Slack Block Kit: building an alert from an outbox payload, and Slack's limits checked.

Slack refuses a message whose blocks break its limits (``invalid_blocks``), and that refusal
comes only when the message is sent, hours after the event. ``limit_problems`` names every
broken limit of a message, so the outbox can refuse it when it is queued and a test can build
every kind of message we send and check it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from successcrew.domain.json_objects import json_object

#: Slack's documented limits (https://api.slack.com/reference/block-kit/blocks).
HEADER_MAX = 150
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
FIELDS_MAX = 10
BLOCKS_MAX = 50
ACTION_ELEMENTS_MAX = 25
CONTEXT_ELEMENTS_MAX = 10
BUTTON_TEXT_MAX = 75
MESSAGE_TEXT_MAX = 3000


@dataclass(frozen=True)
class Button:
    """A decision button: ``value`` comes back to us in the interactivity payload."""

    text: str
    action_id: str
    value: str
    style: str | None = None  # "primary" or "danger"
    confirm: str | None = None  # a question shown before a dangerous click goes through


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (account names are data and may be
    long; a cut title still reads as one)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _button_element(button: Button) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": shorten(button.text, BUTTON_TEXT_MAX)},
        "action_id": button.action_id,
        "value": button.value,
    }
    if button.style in ("primary", "danger"):
        element["style"] = button.style
    if button.confirm:
        element["confirm"] = {
            "title": {"type": "plain_text", "text": "Are you sure?"},
            "text": {"type": "mrkdwn", "text": button.confirm},
            "confirm": {"type": "plain_text", "text": button.text[:30]},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
    return element


def context_block(text: str) -> dict[str, Any]:
    """The small grey line under a message: where it came from (a trigger code, a rule)."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def build_blocks(
    title: str,
    *,
    summary: str | None = None,
    fields: Mapping[str, Any] | None = None,
    buttons: Sequence[Button] = (),
    context: str | None = None,
) -> list[dict[str, Any]]:
    """Block Kit for an alert: a header, an optional summary, fields, decision buttons, and a
    context line (trigger codes belong there, not in the title)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": shorten(title, HEADER_MAX)}}
    ]
    if summary and summary.strip():
        text = shorten(summary, SECTION_TEXT_MAX)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    items = [(name, value) for name, value in (fields or {}).items() if str(value).strip()]
    # A section holds at most 10 fields; longer lists continue in the next section.
    for start in range(0, len(items), FIELDS_MAX):
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": shorten(f"*{name}*\n{value}", FIELD_TEXT_MAX)}
                    for name, value in items[start : start + FIELDS_MAX]
                ],
            }
        )
    if buttons:
        elements = [_button_element(b) for b in buttons[:ACTION_ELEMENTS_MAX]]
        blocks.append({"type": "actions", "elements": elements})
    if context:
        blocks.append(context_block(shorten(context, SECTION_TEXT_MAX)))
    return blocks


def fallback_text(title: str, summary: str | None, fields: Mapping[str, Any] | None) -> str:
    """The plain notification text Slack shows where blocks cannot be rendered."""
    parts = [title]
    if summary:
        parts.append(summary)
    parts.extend(f"{k}: {v}" for k, v in (fields or {}).items())
    return shorten(" | ".join(parts), MESSAGE_TEXT_MAX)


def slack_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``text`` and ``blocks`` of the message an outbox payload becomes.

    The payload holds ``title`` and optionally ``summary``, ``fields``, ``buttons`` (dicts with
    Button's fields) and ``context`` (the small line under it: trigger codes); ``blocks`` given
    verbatim are used as they are, with ``text`` as their notification fallback.
    """
    title = str(payload.get("title") or payload.get("text") or "successcrew")
    summary = payload.get("summary")
    fields: Mapping[str, Any] = payload.get("fields") or {}
    buttons = [Button(**b) for b in payload.get("buttons") or ()]
    blocks = payload.get("blocks") or build_blocks(
        title, summary=summary, fields=fields, buttons=buttons, context=payload.get("context")
    )
    return {"text": payload.get("text") or fallback_text(title, summary, fields), "blocks": blocks}


def _text_of(obj: Any) -> str:
    mapping = json_object(obj)
    return str(mapping.get("text") or "") if mapping is not None else ""


def limit_problems(message: Mapping[str, Any]) -> list[str]:
    """Every Slack limit the message (``text`` and ``blocks``) breaks, as sentences; [] when
    Slack will take it."""
    problems: list[str] = []
    text = str(message.get("text") or "")
    blocks = list(message.get("blocks") or ())
    if not text.strip() and not blocks:
        problems.append("the message has neither text nor blocks")
    if len(text) > MESSAGE_TEXT_MAX:
        problems.append(f"text is {len(text):,} characters (at most {MESSAGE_TEXT_MAX:,})")
    if len(blocks) > BLOCKS_MAX:
        problems.append(f"{len(blocks)} blocks (at most {BLOCKS_MAX})")
    for n, block in enumerate(blocks, start=1):
        kind = block.get("type")
        where = f"block {n} ({kind})"
        if kind == "header":
            header = _text_of(block.get("text"))
            if not header.strip():
                problems.append(f"{where}: empty header")
            elif len(header) > HEADER_MAX:
                problems.append(f"{where}: {len(header)} characters (at most {HEADER_MAX})")
        elif kind == "section":
            body = _text_of(block.get("text"))
            fields: list[Any] = list(block.get("fields") or ())
            if not body.strip() and not fields:
                problems.append(f"{where}: empty section (no text and no fields)")
            if len(body) > SECTION_TEXT_MAX:
                problems.append(
                    f"{where}: text is {len(body):,} characters (at most {SECTION_TEXT_MAX:,})"
                )
            if len(fields) > FIELDS_MAX:
                problems.append(f"{where}: {len(fields)} fields (at most {FIELDS_MAX})")
            for f in fields:
                if not _text_of(f).strip():
                    problems.append(f"{where}: an empty field")
                elif len(_text_of(f)) > FIELD_TEXT_MAX:
                    problems.append(f"{where}: a field over {FIELD_TEXT_MAX:,} characters")
        elif kind == "actions":
            elements: list[Any] = list(block.get("elements") or ())
            if not elements or len(elements) > ACTION_ELEMENTS_MAX:
                problems.append(f"{where}: {len(elements)} elements (1 to {ACTION_ELEMENTS_MAX})")
            for e in elements:
                label = _text_of(e.get("text"))
                if not label.strip() or len(label) > BUTTON_TEXT_MAX:
                    problems.append(f"{where}: button text must be 1 to {BUTTON_TEXT_MAX} chars")
        elif kind == "context":
            elements: list[Any] = list(block.get("elements") or ())
            if not elements or len(elements) > CONTEXT_ELEMENTS_MAX:
                problems.append(f"{where}: {len(elements)} elements (1 to {CONTEXT_ELEMENTS_MAX})")
            if any(not _text_of(e).strip() for e in elements):
                problems.append(f"{where}: an empty element")
        else:
            problems.append(f"{where}: a block type we do not send")
    return problems


def readable_lines(blocks: Sequence[Mapping[str, Any]]) -> list[str]:
    """The words of a message as a person reads them in Slack, one line per line of text (for
    ``successcrew outbox --show``)."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        texts: list[str] = []
        if kind in ("header", "section"):
            texts.append(_text_of(block.get("text")))
            # A field is "*Name*\nvalue" in Slack's markup; read as "Name: value".
            texts.extend(
                re.sub(r"^\*(.+?)\*\n", r"\1: ", _text_of(f)) for f in block.get("fields") or ()
            )
        elif kind == "context":
            texts.extend(_text_of(e) for e in block.get("elements") or ())
        elif kind == "actions":
            labels = [_text_of(e.get("text")) for e in block.get("elements") or ()]
            texts.append("[" + "] [".join(labels) + "]")
        for text in texts:
            lines.extend(line for line in text.splitlines() if line.strip())
    return lines
