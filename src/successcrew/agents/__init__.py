"""The crew's agents: the ``Agent`` base class, the four built-in agents, and discovery."""

from successcrew.agents.base import Agent, AgentDefinition, TaskContext, ToolDefinition, tool

__all__ = ["Agent", "AgentDefinition", "TaskContext", "ToolDefinition", "tool"]
