"""Third-party command-line tools whose own pins clash with ours (openapi-python-client wants typer<0.28,
schemathesis its own pytest plugin), each installed at a pinned version from the package registry into a
virtual environment of its own, `.venv-tools/NAME-VERSION/`, once: a `.ready` stamp marks a finished
install, so later runs reuse it and a new pin makes a new venv. A file lock keeps two runs from installing
the same one at once.

`python -m tools.tool_venv NAME` installs it if needed and prints its `bin` directory.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

PINNED = {"openapi-python-client": "0.29.1", "schemathesis": "4.32.5"}
ROOT = Path(__file__).resolve().parents[1]
INSTALL_SECONDS = 600
PIP = ("--no-input",)


class ToolVenvFailed(RuntimeError):
    """The tool's venv could not be built (no registry, no such version, a failed install)."""


def tools_dir() -> Path:
    """`BONDFLOW_TOOLS_DIR` if set, else `.venv-tools/` at the repository root."""
    return Path(os.environ.get("BONDFLOW_TOOLS_DIR") or ROOT / ".venv-tools")


def tool_bin(name: str) -> Path:
    """The `bin` directory of the venv holding `name` at its pinned version, installed first if missing."""
    version = PINNED[name]
    base = tools_dir()
    base.mkdir(parents=True, exist_ok=True)
    venv = base / f"{name}-{version}"
    with open(base / f"{name}-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".ready").exists():
            _install(venv, f"{name}=={version}")
    return venv / "bin"


def _install(venv: Path, requirement: str) -> None:
    shutil.rmtree(venv, ignore_errors=True)  # a half-built one from an interrupted run
    steps = (
        [sys.executable, "-m", "venv", str(venv)],
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            *PIP,
            requirement,
        ],
    )
    for step in steps:
        try:
            done = subprocess.run(  # noqa: S603 - our interpreter and pip, fixed arguments
                step, capture_output=True, text=True, timeout=INSTALL_SECONDS, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise ToolVenvFailed(f"installing {requirement} into {venv} timed out: {' '.join(step)}") from exc
        if done.returncode != 0:
            raise ToolVenvFailed(
                f"could not install {requirement} into {venv} ({' '.join(step)} exited {done.returncode}):\n"
                f"{(done.stdout + done.stderr)[-2000:]}"
            )
    (venv / ".ready").touch()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.tool_venv", description=__doc__)
    parser.add_argument("name", choices=sorted(PINNED))
    args = parser.parse_args(argv)
    try:
        print(tool_bin(args.name))
    except ToolVenvFailed as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
