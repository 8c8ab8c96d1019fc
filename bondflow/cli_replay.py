"""`bondflow replay`: rebuild every read model from the log into fresh tables and compare checksums with
the live ones (ARCHITECTURE §3); `--as-of` rebuilds the past, `--switch` makes the rebuilt tables live."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import typer

from bondflow.settings import Settings


def replay(
    as_of: Annotated[str | None, typer.Option("--as-of", help="a log position, or an ISO-8601 time")] = None,
    switch: Annotated[
        bool, typer.Option("--switch", help="replace the live read models with the rebuilt ones")
    ] = False,
    skip_clickhouse: Annotated[bool, typer.Option("--skip-clickhouse")] = False,
) -> None:
    """Rebuild every read model from the log into fresh tables, compare checksums with the live ones."""
    from bondflow.security.keys import SigningKey
    from bondflow.wiring.bootstrap import (
        clickhouse_read_models,
        open_store,
        postgres_read_models,
        replay_elsewhere,
    )
    from bondflow.wiring.replay import resolve_upto, run_replay

    settings = Settings()
    db, store = open_store(settings)
    key = SigningKey.load_or_create(settings.resolved_data_dir)
    try:
        clickhouse = None if skip_clickhouse else _replay_clickhouse(settings)
        upto = resolve_upto(store, db, as_of)
        with _replay_progress(upto) as advance:
            report = run_replay(
                store,
                db,
                lambda replica: postgres_read_models(replica, key),
                clickhouse,
                clickhouse_read_models,
                as_of=as_of,
                switch=switch,
                progress=advance,
                elsewhere=replay_elsewhere(settings.resolved_data_dir),
            )
    finally:
        store.close()
        db.close()
    _print_replay(report, switch)
    if not report.matches:
        raise typer.Exit(1)


def _replay_clickhouse(settings: Settings) -> Any:
    """ClickHouse for the replay, or exit 2 saying why it cannot be opened."""
    from bondflow.adapters.clickhouse import ClickHouse, default_dsn

    try:
        clickhouse = ClickHouse(
            settings.clickhouse_dsn or default_dsn(settings.resolved_data_dir), settings.clickhouse_database
        )
        clickhouse.ping()
    except Exception as exc:
        typer.echo(
            f"cannot open ClickHouse ({type(exc).__name__}: {exc}). With the embedded chDB only one process may "
            "use its data path: stop `bondflow serve` first, point BONDFLOW_CLICKHOUSE_DSN at a server, or pass "
            "--skip-clickhouse.",
            err=True,
        )
        raise typer.Exit(2) from None
    return clickhouse


@contextlib.contextmanager
def _replay_progress(upto: int) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr; yields the callback the replay reports (events read, position) to."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("replaying"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]} ev/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("replay", total=max(upto, 1), rate="-")
        started = [0.0]

        def advance(read: int, position: int) -> None:
            started[0] = started[0] or time.perf_counter()
            elapsed = max(time.perf_counter() - started[0], 1e-6)
            bar.update(task, completed=position, rate=f"{read / elapsed:,.0f}")

        yield advance


def _print_replay(report: Any, switch: bool) -> None:
    typer.echo(
        f"replayed {report.events} events up to position {report.upto} in {report.seconds:.1f}s "
        f"into schema {report.pg_schema}"
        + (f" and ClickHouse database {report.ch_database}" if report.ch_database else "")
    )
    for table, (replayed, live) in sorted(report.checksums.items()):
        verdict = (
            "no live comparison (as-of replay)"
            if live is None
            else ("match" if live == replayed else f"DIFFERS (live {live})")
        )
        typer.echo(f"  {table:32} {replayed}  {verdict}")
    if switch:
        typer.echo(
            "switched: the rebuilt PostgreSQL read models are live; the old ones were kept in a replaced_* schema"
        )
