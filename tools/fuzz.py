"""`python -m tools.fuzz` (`make fuzz`): schemathesis against the served `/openapi.json` with the real stack.

Starts an embedded PostgreSQL (or uses BONDFLOW_DATABASE_URL's server) with a fresh database and a real
`bondflow serve` (every follower, chDB under its DATA_DIR, rate limits lifted: a fuzzer is a load run), lists
the demo bond and funds a KYC-verified investor, then runs the schemathesis CLI (pinned, in its own tool venv:
its pins clash with ours, and its pytest plugin does not run on pytest 9) once per role, investor and admin,
with every check: no 5xx, status codes, content types, headers and bodies as documented, negative data
rejected, positive data accepted, auth not ignored. Reports go to `.fuzz/ROLE/` (JUnit and NDJSON); the
summary lines say how many cases ran and what failed. Exit status 1 if any run found a failure or the
server logged a traceback; schemathesis' own crashes (a case it could not build) are counted, not failed on.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tools.bench.database import fresh_database, postgres_server
from tools.bench.server import running_server
from tools.bench.setup import mint_tokens, prepare
from tools.tool_venv import ToolVenvFailed, tool_bin

PHASES = "examples,coverage,fuzzing,stateful"
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Options:
    max_examples: int
    seed: int
    workers: int
    max_time: int | None
    report_dir: Path
    roles: tuple[str, ...]


def parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m tools.fuzz", description=__doc__)
    parser.add_argument("--max-examples", type=int, default=40, help="cases per operation and phase (40)")
    parser.add_argument("--seed", type=int, default=20261201, help="schemathesis seed (reproducible runs)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-time", type=int, help="seconds per role for the whole run (default: none)")
    parser.add_argument("--report-dir", type=Path, default=Path(".fuzz"))
    parser.add_argument("--role", action="append", choices=["investor", "admin"], help="default: both")
    args = parser.parse_args(argv)
    roles = tuple(args.role or ["investor", "admin"])
    return Options(args.max_examples, args.seed, args.workers, args.max_time, args.report_dir, roles)


def schemathesis_command(tool: Path, base: str, token: str, options: Options, reports: Path) -> list[str]:
    command = [str(tool / "schemathesis"), "run", f"{base}/openapi.json", "--checks", "all"]
    command += ["--header", f"Authorization: Bearer {token}", "--phases", PHASES]
    command += ["--max-examples", str(options.max_examples), "--seed", str(options.seed)]
    command += ["--workers", str(options.workers), "--request-timeout", "30", "--no-color"]
    command += ["--generation-allow-x00", "true", "--report", "junit,ndjson", "--report-dir", str(reports)]
    command += ["--output-sanitize", "true", "--output-truncate", "false"]
    return command + (["--max-time", str(options.max_time)] if options.max_time else [])


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one schemathesis run reported: its closing line, read."""

    cases: int
    failures: int
    tool_errors: int  # schemathesis' own crashes (a case it could not generate), not answers of ours
    exit_code: int

    @classmethod
    def read(cls, output: str, exit_code: int) -> Outcome:
        cases = re.search(r"([0-9]+) generated", output)
        closing = [line for line in output.splitlines() if re.match(r"^=+ .* in [0-9.]+s =+$", line)]
        last = closing[-1] if closing else ""
        failures = re.search(r"([0-9]+) failures?", last)
        errors = re.search(r"([0-9]+) errors?", last)
        return cls(
            int(cases.group(1)) if cases else 0,
            int(failures.group(1)) if failures else (0 if last else -1),  # -1: no closing line at all
            int(errors.group(1)) if errors else 0,
            exit_code,
        )

    @property
    def passed(self) -> bool:
        return self.failures == 0

    def __str__(self) -> str:
        return (
            f"{self.cases} cases, {self.failures} failures, {self.tool_errors} schemathesis errors "
            f"(exit {self.exit_code})"
        )


def run_role(tool: Path, base: str, role: str, token: str, options: Options) -> Outcome:
    reports = options.report_dir / role
    reports.mkdir(parents=True, exist_ok=True)
    print(f"== schemathesis as {role} against {base}", flush=True)
    forgiven = reports / "forgiven.jsonl"
    forgiven.unlink(missing_ok=True)
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tools.fuzz_hooks",  # imported by the tool's interpreter from the repo root
        "PYTHONPATH": str(ROOT),
        "BONDFLOW_FUZZ_FORGIVEN": str(forgiven.resolve()),
    }
    done = subprocess.run(  # noqa: S603 - the pinned tool from our own tool venv
        schemathesis_command(tool, base, token, options, reports),
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=ROOT,
    )
    output = done.stdout + done.stderr
    (reports / "output.txt").write_text(output)
    print("\n".join(line[:300] for line in output.splitlines()[-150:]), flush=True)
    outcome = Outcome.read(output, done.returncode)
    print(f"== {role}: {outcome}; full output in {reports}")
    _print_forgiven(forgiven)
    return outcome


def _print_forgiven(forgiven: Path) -> None:
    """What `tools/fuzz_hooks.py` took out of the positive-data check, per reason and operation."""
    lines = forgiven.read_text().splitlines() if forgiven.exists() else []
    counts = Counter((entry["reason"], entry["operation"]) for entry in map(json.loads, lines))
    print(f"   schema-valid requests refused for state no schema states (forgiven): {sum(counts.values())}")
    for (reason, operation), count in sorted(counts.items()):
        print(f"     {count:4}  {reason}: {operation}")


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)
    try:
        tool = tool_bin("schemathesis")
    except ToolVenvFailed as exc:
        sys.exit(f"the schemathesis tool venv could not be built: {exc}")
    workdir = Path(tempfile.mkdtemp(prefix="bf-fuzz-"))
    failed = []
    with (
        postgres_server(workdir) as admin_url,
        fresh_database(admin_url) as url,
        running_server(url, workdir) as server,
    ):
        admin, investors = mint_tokens(workdir / "var", 1)
        prepare(server.base, admin, investors)
        tokens = {"investor": investors[0], "admin": admin}
        for role in options.roles:
            if not run_role(tool, server.base, role, tokens[role], options).passed:
                failed.append(role)
        log = (workdir / "serve-var.log").read_text(errors="replace")
    tracebacks = log.count("Traceback")
    print(f"server log: {workdir / 'serve-var.log'} ({tracebacks} tracebacks)")
    if failed or tracebacks:
        sys.exit(f"fuzzing found failures (roles: {', '.join(failed) or 'none'}; tracebacks: {tracebacks})")
    print("fuzzing found no failure")


if __name__ == "__main__":
    main()
