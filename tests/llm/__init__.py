"""Tests of the llm extra (crewAI and LangChain), offline. Skipped without the extra."""

SKIP_REASON = (
    "the llm extra is not installed (pip install -e '.[dev,llm]'); .ci/run runs tests/llm in a "
    "second virtual environment"
)
