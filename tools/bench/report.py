"""The bench's table on stdout and its figures in `.bench/results.json`."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tools.bench.loadgen import Phase
from tools.bench.stats import ratio

HEADER = (
    f"{'phase':<22}{'load':<16}{'sent':>7}{'ok':>7}{'err':>5}{'req/s':>9}"
    f"{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'lag p99':>9}{'lag max':>9}{'gen CPU':>9}"
)


def _num(value: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"


def row(name: str, load: str, phase: Phase) -> str:
    s = phase.summary
    return (
        f"{name:<22}{load:<16}{s.requests:>7}{s.ok:>7}{s.errors:>5}{_num(s.throughput):>9}"
        f"{_num(s.p50_ms, 2):>9}{_num(s.p99_ms, 2):>9}{_num(s.max_ms, 2):>9}"
        f"{_num(s.lag_p99_ms, 2):>9}{_num(s.lag_max_ms, 2):>9}{_num(s.generator_cpu * 100, 0) + '%':>9}"
    )


def ratios(phases: dict[str, Phase]) -> dict[str, float]:
    """Command ÷ baseline, all from this run: latency at the same rate, and throughput against the max."""
    cmd, base = phases["command_open"].summary, phases["baseline_open"].summary
    cmd_max, base_max = phases["command_closed"].summary, phases["baseline_closed"].summary
    return {
        "p50_latency_command_over_baseline": ratio(cmd.p50_ms, base.p50_ms),
        "p99_latency_command_over_baseline": ratio(cmd.p99_ms, base.p99_ms),
        "command_fixed_rate_throughput_over_baseline_max": ratio(cmd.throughput, base_max.throughput),
        "command_max_throughput_over_baseline_max": ratio(cmd_max.throughput, base_max.throughput),
    }


def render(config: dict[str, Any], phases: dict[str, Phase], extra: list[str]) -> str:
    rate, clients = config["rate"], config["clients"]
    lines = [
        f"BondFlow bench: {config['seconds']:g} s per fixed-rate phase after {config['warmup']:g} s warm-up, "
        f"{config['max_seconds']:g} s per max-speed phase; PostgreSQL {config['postgres']}",
        "latency counts from each request's scheduled send time (open loop); lag = how late the generator "
        "sent vs schedule",
        "",
        HEADER,
        row("POST /v1/orders", f"open {rate:g}/s", phases["command_open"]),
        row("INSERT+COMMIT (raw)", f"open {rate:g}/s", phases["baseline_open"]),
        row("POST /v1/orders", f"closed {clients} cl", phases["command_closed"]),
        row("INSERT+COMMIT (raw)", f"closed {clients} cl", phases["baseline_closed"]),
        "",
        "ratios (command ÷ baseline, same run, same PostgreSQL):",
    ]
    labels = {
        "p50_latency_command_over_baseline": f"p50 latency at {rate:g}/s",
        "p99_latency_command_over_baseline": f"p99 latency at {rate:g}/s",
        "command_fixed_rate_throughput_over_baseline_max": f"orders/s at {rate:g}/s ÷ raw INSERT max",
        "command_max_throughput_over_baseline_max": "orders/s max ÷ raw INSERT max",
    }
    for key, value in ratios(phases).items():
        lines.append(f"  {labels[key]:<40}{_num(value, 3):>10}")
    lines += ["", *extra]
    return "\n".join(lines)


def write_json(path: Path, config: dict[str, Any], phases: dict[str, Phase], extra: dict[str, Any]) -> None:
    payload = {
        "config": config,
        "phases": {
            name: {**asdict(p.summary), "outcomes": p.outcomes, "first_error": p.first_error}
            for name, p in phases.items()
        },
        "ratios": ratios(phases),
        **extra,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(payload), indent=2, default=str) + "\n")


def _clean(value: Any) -> Any:
    """JSON has no NaN: missing figures become null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value
