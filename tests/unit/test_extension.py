"""A fifth agent is picked up without installing anything: from a project directory, and from an
entry point handed to discovery (docs/extending.md walks through the same steps)."""

from __future__ import annotations

import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, select

from successcrew.crew.agent_registry import load_agents
from successcrew.crew.plugins import discover
from successcrew.definitions.crew_definition import load_crew
from successcrew.errors import ConfigError
from successcrew.store.models import TaskRun
from tests.crewhelpers import day, make_crew

AGENT_MODULE = '''
"""An extra agent for the test: counts accounts by segment."""
from sqlalchemy import func, select

from successcrew.agents import Agent, TaskContext, tool
from successcrew.store.models import Account


class ChurnForecaster(Agent):
    DEFINITION = {
        "role": "Churn Forecaster",
        "goal": "Say how many accounts each segment has.",
        "backstory": "Written for a test.",
        "tools": [{"name": "segment_counts", "description": "Accounts per segment."}],
    }

    @tool()
    def segment_counts(self, ctx: TaskContext) -> dict:
        """Accounts per segment."""
        rows = ctx.session.execute(select(Account.segment, func.count()).group_by(Account.segment))
        return {"segments": {str(s): n for s, n in rows}}
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory with agents/churn_forecaster.yaml and its module on sys.path."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "acme_forecaster.py").write_text(AGENT_MODULE)
    monkeypatch.syspath_prepend(str(code))
    proj = tmp_path / "project"
    (proj / "agents").mkdir(parents=True)
    (proj / "agents" / "churn_forecaster.yaml").write_text(
        textwrap.dedent(
            """
            name: churn_forecaster
            class: acme_forecaster:ChurnForecaster
            role: Churn Forecaster
            goal: Say how many accounts each segment has.
            backstory: Written for a test.
            tools:
              - name: segment_counts
                description: Accounts per segment.
            """
        )
    )
    crew = yaml.safe_load(load_crew_path().read_text())
    crew["operations"]["tasks"].append(
        {
            "id": "segment_counts",
            "cadence": "daily",
            "agent": "churn_forecaster",
            "tool": "segment_counts",
        }
    )
    (proj / "crews").mkdir()
    (proj / "crews" / "customer_success.yaml").write_text(yaml.safe_dump(crew))
    monkeypatch.setenv("SUCCESSCREW_PROJECT_DIR", str(proj))
    return proj


def load_crew_path() -> Path:
    from successcrew.definitions.crew_definition import crew_path

    return crew_path()


def test_an_agent_in_the_project_directory_joins_the_crew(project: Path, engine: Engine) -> None:
    agents = load_agents()
    assert len(agents) == 5
    extra = agents["churn_forecaster"]
    assert extra.role == "Churn Forecaster"
    assert extra.tools_status()[0]["status"] == "available"
    assert any(op.agent == "churn_forecaster" for op in load_crew().operations.tasks)
    crew = make_crew(engine)
    summary = crew.run(day(1))
    crew.close()
    assert summary.exit_code == 0
    assert any(t.task == "segment_counts" and t.status == "succeeded" for t in summary.tasks)
    with engine.connect() as conn:
        assert conn.execute(select(TaskRun.task).where(TaskRun.task == "segment_counts")).all()


def test_an_entry_point_adds_an_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "acme_plugin.py").write_text(AGENT_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = EntryPoint(
        name="churn_forecaster", value="acme_plugin:ChurnForecaster", group="successcrew.agents"
    )
    agents = load_agents(extra_entry_points=[ep])
    assert agents["churn_forecaster"].goal == "Say how many accounts each segment has."
    assert [t["name"] for t in agents["churn_forecaster"].tools_status()] == ["segment_counts"]


def test_a_plugin_that_does_not_load_is_named(tmp_path: Path) -> None:
    ep = EntryPoint(name="ghost", value="no_such_module_xyz:Ghost", group="successcrew.triggers")
    with pytest.raises(ConfigError, match=r"entry point .ghost. in group successcrew\.triggers"):
        discover("successcrew.triggers", [ep])


def test_a_yaml_naming_a_missing_class_or_tool_is_a_config_error(
    project: Path, engine: Engine
) -> None:
    (project / "agents" / "churn_forecaster.yaml").write_text(
        "name: churn_forecaster\nclass: acme_forecaster:Nope\nrole: r\ngoal: g\nbackstory: b\n"
    )
    with pytest.raises(ConfigError, match=r"key class: 'acme_forecaster:Nope' cannot be imported"):
        load_agents()
    (project / "agents" / "churn_forecaster.yaml").write_text(
        "name: churn_forecaster\nclass: acme_forecaster:ChurnForecaster\nrole: r\ngoal: g\n"
        "backstory: b\n"
    )
    with pytest.raises(ConfigError, match=r"key operations.tasks\[segment_counts\].tool"):
        make_crew(engine)


def test_tools_not_in_this_build_are_listed_as_not_available() -> None:
    agents = load_agents()
    statuses = {
        f"{a.name}.{t['name']}": t["status"] for a in agents.values() for t in a.tools_status()
    }
    assert statuses["success_infrastructure_architect.select_providers"] == "available"
    absent = {k: v for k, v in statuses.items() if v != "available"}
    assert all(v.startswith("not available: needs ") for v in absent.values())
