"""The optional model (the ``llm`` extra): LangChain calls and crewAI agents over the crew's
read-only tools. They draft, explain and propose; the deterministic code decides.

Nothing here is imported by the core: the command line installs an assistant
(``successcrew.llm.setup``) into ``successcrew.services.model.assistant`` when a model is
configured, and the dashboard's Ask page imports ``successcrew.llm.ask`` on a question.
LangChain and crewAI are imported on first use only, so this package is cheap to import.
"""

from __future__ import annotations

import importlib.util

#: What the extra installs (``pip install 'successcrew[llm]'``).
PACKAGES = {"langchain_openai": "langchain-openai", "crewai": "crewai"}


def missing_packages(*modules: str) -> list[str]:
    """The extra's packages (of ``modules``, default all) that are not installed."""
    wanted = modules or tuple(PACKAGES)
    return [PACKAGES.get(m, m) for m in wanted if importlib.util.find_spec(m) is None]
