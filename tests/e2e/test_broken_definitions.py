"""A broken definition file stops every command before it writes anything (exit 2, file and key
named), a mistyped SUCCESSCREW_PROJECT_DIR is refused, and an edited trigger file that was never
loaded with ``init`` is said on every ``run`` and ``status``."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import typer.main
from sqlalchemy import Engine, select

from successcrew.cli.app import app
from successcrew.paths import project_dir
from successcrew.store.models import TriggerDefinition
from tests.clirunner import run_cli
from tests.rowcounts import row_counts

NOW = "2026-11-25T09:00:00Z"


def copy_definitions(dest: Path) -> Path:
    """A project directory holding a copy of the shipped definitions."""
    shipped = project_dir()
    for part in ("config", "triggers", "agents", "crews"):
        shutil.copytree(shipped / part, dest / part)
    return dest


def edit(project: Path, name: str, change: Callable[[str], str]) -> None:
    path = project / name
    text = path.read_text(encoding="utf-8")
    changed = change(text)
    assert changed != text, f"the edit of {name} changed nothing"
    path.write_text(changed, encoding="utf-8")


def sub(pattern: str, replacement: str) -> Callable[[str], str]:
    return lambda text: re.sub(pattern, replacement, text, count=1, flags=re.MULTILINE)


# (id, file, edit, what the error says after the file name)
BROKEN = [
    (
        "health-negative-weight",
        "config/health.yaml",
        sub(r"weight: 15", "weight: -1"),
        "key components.logins_30d.weight: Input should be greater than or equal to 0",
    ),
    (
        "health-unknown-key",
        "config/health.yaml",
        sub(r"^(\s+)weight: 15", r"\1weight: 15\n\1colour: red"),
        "key components.logins_30d.colour: unknown key",
    ),
    (
        "playbook-unknown-variable",
        "config/playbooks/at_risk.yaml",
        sub(r"\{\{ account\.name \}\}", "{{ account.nickname }}"),
        "template names an unknown variable",
    ),
    (
        "trigger-without-threshold",
        "triggers/retention-003.yaml",
        sub(r"^threshold:.*\n", ""),
        "key threshold: Field required",
    ),
    (
        "trigger-unknown-threshold-key",
        "triggers/retention-003.yaml",
        sub(r"^threshold:.*$", "threshold: nps.nope"),
        "key threshold: threshold 'nps.nope' is neither a number nor a thresholds.yaml key",
    ),
    (
        "crew-unknown-agent",
        "crews/customer_success.yaml",
        sub(r"agent: success_infrastructure_architect", "agent: ghost"),
        "key setup.steps[select_providers].agent: no agent 'ghost'",
    ),
    (
        "agent-class-missing",
        "agents/nps_tracker.yaml",
        sub(r"^class: .*$", "class: no_such_module:Tracker"),
        "key class: 'no_such_module:Tracker' cannot be imported",
    ),
    (
        "thresholds-out-of-range",
        "config/thresholds.yaml",
        lambda text: text + "\nunknown_section: 1\n",
        "key unknown_section: unknown key",
    ),
    (
        "escalation-unknown-key",
        "config/escalation.yaml",
        lambda text: text + "\nescalate_everything: true\n",
        "key escalate_everything: unknown key",
    ),
    (
        "feedback-not-a-mapping",
        "config/feedback_categories.yaml",
        lambda text: "- just\n- a list\n",
        "key (top level)",
    ),
    (
        "programs-unknown-key",
        "config/programs.yaml",
        lambda text: text + "\nsend_everything_now: true\n",
        "key send_everything_now: unknown key",
    ),
]


@pytest.fixture
def project(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project copy of the shipped definitions, in force, on an initialised database."""
    path = copy_definitions(tmp_path / "project")
    monkeypatch.setenv("SUCCESSCREW_PROJECT_DIR", str(path))
    return path


@pytest.mark.parametrize(
    ("name", "change", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_a_broken_definition_stops_run_before_it_writes(
    project: Path,
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
    name: str,
    change: Callable[[str], str],
    message: str,
) -> None:
    assert run_cli(capsys, "init").code == 0
    edit(project, name, change)
    before = row_counts(engine)
    result = run_cli(capsys, "run", "--now", NOW, "--json")
    assert result.code == 2, result.err
    assert f"{project / name}: " in result.err and message in result.err
    assert result.out == ""
    # No crew run, no task run, no audit entry, no pause: not one row anywhere.
    assert row_counts(engine) == before


def every_command() -> list[list[str]]:
    """Every command and subcommand of the command line, as argument lists."""
    group = typer.main.get_command(app)
    paths = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        if not subcommands or getattr(command, "invoke_without_command", False):
            paths.append([name])
        paths += [[name, sub] for sub in subcommands or ()]
    return paths


def test_a_broken_file_stops_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check comes before any command opens its database, so one database kind shows it
    # for both: the SQLite file named here is never even created.
    for key in [k for k in os.environ if k.startswith("SUCCESSCREW_")]:
        if not key.startswith("SUCCESSCREW_TEST"):
            monkeypatch.delenv(key)
    database = tmp_path / "never.db"
    monkeypatch.setenv("SUCCESSCREW_DATABASE_URL", f"sqlite:///{database}")
    project = copy_definitions(tmp_path / "project")
    monkeypatch.setenv("SUCCESSCREW_PROJECT_DIR", str(project))
    edit(project, "config/health.yaml", sub(r"weight: 15", "weight: -1"))
    edit(project, "crews/customer_success.yaml", sub(r"agent: nps_tracker", "agent: ghost"))
    commands = every_command()
    assert {"init", "run", "status", "import", "demo", "decide"} <= {c[0] for c in commands}
    for args in commands:
        result = run_cli(capsys, *args)
        assert result.code == 2, (args, result.err)
        # Both problems at once, each with its file and key.
        assert "health.yaml: key components.logins_30d.weight" in result.err, args
        assert "customer_success.yaml: key " in result.err and "'ghost'" in result.err, args
    assert not database.exists()


def test_a_project_dir_that_does_not_exist_is_refused(
    project: Path,
    engine: Engine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The operator's own trigger edit, loaded.
    edit(project, "triggers/retention-002.yaml", sub(r"^cooldown_hours: .*$", "cooldown_hours: 5"))
    assert run_cli(capsys, "init").code == 0
    with engine.connect() as conn:
        stored = conn.execute(select(TriggerDefinition.code, TriggerDefinition.checksum)).all()
    before = row_counts(engine)
    typo = tmp_path / "projcet"
    monkeypatch.setenv("SUCCESSCREW_PROJECT_DIR", str(typo))
    for args in (["init"], ["status"], ["run", "--now", NOW]):
        result = run_cli(capsys, *args)
        assert result.code == 2, args
        assert f"SUCCESSCREW_PROJECT_DIR={typo}: does not exist" in result.err
        assert "or unset it to use the definitions shipped with successcrew" in result.err
    # `init` did not sync the shipped triggers over the operator's edit.
    assert row_counts(engine) == before
    with engine.connect() as conn:
        assert conn.execute(select(TriggerDefinition.code, TriggerDefinition.checksum)).all() == (
            stored
        )


def test_run_and_status_say_when_a_trigger_file_was_edited_but_not_loaded(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "init").code == 0
    quiet = run_cli(capsys, "status", "--json")
    assert quiet.json()["trigger_files_not_synced"] == [] and "warning" not in quiet.err
    edit(project, "triggers/retention-002.yaml", sub(r"^cooldown_hours: .*$", "cooldown_hours: 5"))
    warning = (
        "warning: triggers/*.yaml for RETENTION-002 differ from the definitions stored in the "
        "database (or are not stored yet); runs use the stored definitions until you run "
        "`successcrew init`"
    )
    status = run_cli(capsys, "status", "--json")
    assert status.code == 0 and warning in status.err
    assert status.json()["trigger_files_not_synced"] == ["RETENTION-002"]
    human = run_cli(capsys, "status")
    assert warning in human.err
    run = run_cli(capsys, "run", "--now", NOW, "--json")
    assert run.code in (0, 1) and warning in run.err
    assert run.json()["trigger_files_not_synced"] == ["RETENTION-002"]
    assert run_cli(capsys, "init").code == 0
    after = run_cli(capsys, "status", "--json")
    assert after.json()["trigger_files_not_synced"] == [] and "warning" not in after.err
