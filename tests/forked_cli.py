"""Start several ``successcrew`` command lines at the same moment, each its own process, cheaply.

A fresh interpreter spends about two seconds of CPU importing the package before it does any
work, so a test that starts a hundred processes would spend minutes on imports alone. The launcher
is one process that imports the package once and then, for each round, forks one child per
command line. Each child is an ordinary process (its own PID, database connections, stdout,
stderr and exit code) that runs ``successcrew.cli.app.main`` as the console script does, an
uncaught exception included (traceback on stderr, exit 1).

Forked children share their launcher's string-hash seed, so they would all walk a set in the same
order, which real processes do not (a lock-ordering bug can hide behind that). ``together`` hence
spreads the command lines over several launchers, each started with its own random seed, forks
every child first (each waits on its launcher's pipe), then releases them all at once.

Protocol (``python -m tests.forked_cli``; ``Launcher`` speaks it): a JSON line
``{"env": {...}, "commands": [[arg, ...], ...]}`` forks the children and is answered
``{"forked": n}``; the next line (``go``) releases them and is answered, when all have exited,
with a list of ``{"code", "stdout", "stderr"}`` in the order of the commands.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import traceback
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

#: Imported once by the launcher, so no child pays for them (commands import lazily).
PRELOAD = (
    "successcrew.cli.app",
    "successcrew.crew.customer_success",
    "successcrew.integrations.dispatcher",
    "successcrew.store.migrate",
)


@dataclass(frozen=True)
class Finished:
    """What one command line left behind."""

    code: int
    stdout: str
    stderr: str


def _child(argv: list[str], env: dict[str, str], out: IO[bytes], err: IO[bytes], go: int) -> None:
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    os.environ.update(env)
    os.read(go, 1)  # wait for the rest of the round
    code = 1
    try:
        from successcrew.cli.app import main

        result = main(argv)
        code = result if isinstance(result, int) else 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()  # what the interpreter prints for an uncaught exception
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _fork(
    env: dict[str, str], commands: list[list[str]], files: list[tuple[IO[bytes], IO[bytes]]]
) -> tuple[list[int], int]:
    go, release = os.pipe()
    sys.stdout.flush()  # a child must not inherit (and write out) an unsent answer
    pids = []
    for argv, (out, err) in zip(commands, files, strict=True):
        pid = os.fork()
        if pid == 0:
            os.close(release)
            _child(argv, env, out, err, go)
        pids.append(pid)
    os.close(go)
    return pids, release


def _release_and_wait(
    pids: list[int], files: list[tuple[IO[bytes], IO[bytes]]], release: int
) -> list[dict[str, Any]]:
    os.write(release, b"x" * len(pids))
    os.close(release)
    answers = []
    for pid, (out, err) in zip(pids, files, strict=True):
        _, status = os.waitpid(pid, 0)
        streams = []
        for f in (out, err):
            f.seek(0)
            streams.append(f.read().decode(errors="replace"))
        answers.append(
            {
                "code": os.waitstatus_to_exitcode(status),
                "stdout": streams[0],
                "stderr": streams[1],
            }
        )
    return answers


def serve() -> None:
    """The launcher's loop: preload, then one round per request until stdin closes."""
    for name in PRELOAD:
        importlib.import_module(name)
    # Mapper configuration is process-wide and otherwise redone by every child's first query.
    importlib.import_module("sqlalchemy.orm").configure_mappers()
    print(json.dumps({"ready": True}), flush=True)
    while line := sys.stdin.readline():
        request = json.loads(line)
        with ExitStack() as stack:
            files = [
                (
                    stack.enter_context(tempfile.TemporaryFile()),
                    stack.enter_context(tempfile.TemporaryFile()),
                )
                for _ in request["commands"]
            ]
            pids, release = _fork(request["env"], request["commands"], files)
            print(json.dumps({"forked": len(pids)}), flush=True)
            sys.stdin.readline()  # "go"
            print(json.dumps(_release_and_wait(pids, files, release)), flush=True)


class Launcher:
    """One launcher process, with its own hash seed; ``close`` stops it."""

    def __init__(self, env: dict[str, str]) -> None:
        root = Path(__file__).resolve().parent.parent
        env = {k: v for k, v in env.items() if k != "PYTHONHASHSEED"}  # each its own seed
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.forked_cli"],
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None and self._proc.stdin is not None
        self._in, self._out = self._proc.stdin, self._proc.stdout

    def _send(self, line: str) -> Any:
        self._in.write(line + "\n")
        self._in.flush()
        return self._read()

    def _read(self) -> Any:
        answer = self._out.readline()
        if not answer:
            raise RuntimeError(f"the launcher stopped (exit {self._proc.wait()})")
        return json.loads(answer)

    def wait_ready(self) -> None:
        """Block until the launcher has imported the package."""
        assert self._read() == {"ready": True}

    def fork(self, env: dict[str, str], commands: list[list[str]]) -> None:
        """Fork one waiting child per command line, with ``env`` added to the environment."""
        assert self._send(json.dumps({"env": env, "commands": commands})) == {
            "forked": len(commands)
        }

    def release(self) -> None:
        """Let the forked children go."""
        self._in.write("go\n")
        self._in.flush()

    def results(self) -> list[Finished]:
        """What each child left behind, once all have exited."""
        return [Finished(**a) for a in self._read()]

    def close(self) -> None:
        """Stop the launcher (it exits when its stdin closes)."""
        self._in.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def together(
    launchers: list[Launcher], env: dict[str, str], commands: list[list[str]]
) -> list[Finished]:
    """Start every command line at the same moment, dealt round-robin over ``launchers``;
    returns what each left behind, in the order of ``commands``."""
    shares = [commands[i :: len(launchers)] for i in range(len(launchers))]
    busy = [(launcher, share) for launcher, share in zip(launchers, shares, strict=True) if share]
    for launcher, share in busy:
        launcher.fork(env, share)
    for launcher, _ in busy:
        launcher.release()
    done = {id(launcher): iter(launcher.results()) for launcher, _ in busy}
    return [next(done[id(launchers[i % len(launchers)])]) for i in range(len(commands))]


if __name__ == "__main__":
    serve()
