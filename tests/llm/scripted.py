"""A ``crewai.BaseLLM`` that answers from a script and records every call: crewAI's own
extension point, so crews run for real with no socket at all.

Script items: a string (the completion), a list of tool calls (native tool calling), or a
callable ``(messages, tools, response_model) -> str | list``.

(No ``from __future__ import annotations``: crewAI and pydantic read these annotations.)
"""

import json
from typing import Any

from crewai import BaseLLM
from pydantic import Field, PrivateAttr


def tool_call(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> dict[str, Any]:
    """An OpenAI-format tool call."""
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


class ScriptedLLM(BaseLLM):
    """Replays ``script``; counts 10 prompt and 5 completion tokens per call."""

    llm_type: str = "scripted"
    native_tools: bool = True
    script: list[Any] = Field(default_factory=list)
    _calls: list[dict[str, Any]] = PrivateAttr(default_factory=list)

    @property
    def calls(self) -> list[dict[str, Any]]:
        return self._calls

    def supports_function_calling(self) -> bool:
        return self.native_tools

    def supports_stop_words(self) -> bool:
        return True

    def get_context_window_size(self) -> int:
        return 32_000

    def get_input_tokens_count(
        self, messages: Any, tools: Any = None, response_model: Any = None
    ) -> int:
        return 10

    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> Any:
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        self._calls.append(
            {
                "messages": [dict(m) for m in messages],
                "tools": tools,
                "response_model": response_model,
            }
        )
        if not self.script:
            raise AssertionError(f"script exhausted after {len(self._calls) - 1} calls")
        item = self.script.pop(0)
        if callable(item):
            item = item(messages, tools, response_model)
        self._track_token_usage_internal(
            {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        )
        return item


def text_of(call: dict[str, Any]) -> str:
    """Everything one call showed the model."""
    return "\n".join(str(m.get("content") or "") for m in call["messages"])
