"""The `bondflow` command: serve the API, run one follower, mint a dev token."""

from __future__ import annotations

import os
import signal
import threading
from datetime import UTC, datetime
from typing import Annotated

import typer

from bondflow.auth.principal import Role
from bondflow.settings import Settings

cli = typer.Typer(help="BondFlow: tokenized bond trading backend", no_args_is_help=True, add_completion=False)


@cli.command()
def serve(
    workers: Annotated[
        bool, typer.Option("--workers/--no-workers", help="run the followers (or leave them to `worker`)")
    ] = True,
    worker_process: Annotated[
        bool,
        typer.Option(
            "--worker-process/--single-process",
            help="run the followers that need no ClickHouse in a supervised child process (default), "
            "or every follower in the server's process",
        ),
    ] = True,
) -> None:
    """Serve the HTTP API and, by default, the followers: those that use ClickHouse in this process, the
    rest in one supervised worker process."""
    import uvicorn

    from bondflow.api.app import create_app
    from bondflow.bootstrap import bootstrap
    from bondflow.logs import configure_logging
    from bondflow.worker_processes import WorkerProcess, split_followers

    settings = Settings()
    if settings.clock_start is not None and settings.clock_anchor is None:
        # the worker process must read the same shifted clock as this one
        settings = settings.model_copy(update={"clock_anchor": datetime.now(UTC)})
    configure_logging(settings.log_level)
    container = bootstrap(settings)
    if settings.seed_demo_data and not settings.is_prod:
        from bondflow.seed import seed_demo

        seed_demo(container.instruments)
    if workers and worker_process:
        here, there = split_followers(container.followers)
        container.start_followers(here)
        child = WorkerProcess(there, _child_env(settings, container.db.url))
        child.start()
        container.processes.append(child)
    elif workers:
        container.start_followers()
    try:
        uvicorn.run(
            create_app(container),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    finally:
        container.close()


def _child_env(settings: Settings, database_url: str) -> dict[str, str]:
    env = {**os.environ, "BONDFLOW_DATABASE_URL": database_url}
    if settings.clock_anchor is not None:
        env["BONDFLOW_CLOCK_ANCHOR"] = settings.clock_anchor.isoformat()
    return env


@cli.command()
def worker(
    names: Annotated[list[str], typer.Argument(help="follower names, e.g. orders_view settlement_saga")],
) -> None:
    """Run followers until interrupted (only one copy of each leads; others stand by)."""
    from bondflow.bootstrap import bootstrap
    from bondflow.logs import configure_logging
    from bondflow.worker_processes import watch_parent

    settings = Settings()
    configure_logging(settings.log_level)
    container = bootstrap(settings)
    unknown = sorted(set(names) - set(container.followers))
    if unknown:
        container.close()
        raise typer.BadParameter(f"unknown follower(s) {unknown}; choose from {sorted(container.followers)}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    watch_parent(stop)
    container.start_followers(names)
    try:
        stop.wait()
    finally:
        container.close()


@cli.command()
def token(
    role: Annotated[Role, typer.Option(help="investor, ops, admin or regulator")],
    sub: Annotated[str | None, typer.Option(help="subject (user id); random if omitted")] = None,
    kyc_verified: Annotated[
        bool,
        typer.Option(
            "--kyc-verified", help="claim a verified KYC (tier full), for a subject with no account"
        ),
    ] = False,
    residency: Annotated[str, typer.Option(help="claimed residency (ISO 3166 alpha-2)")] = "IN",
    category: Annotated[
        str, typer.Option(help="claimed investor category: retail, hni, institutional")
    ] = "retail",
) -> None:
    """Print a bearer token signed with the local key (refused in prod).

    Attribute claims are only used for subjects without a BondFlow account: a signed-up investor's own
    KYC and profile always win."""
    import uuid

    from bondflow.auth.keys import SigningKey
    from bondflow.auth.tokens import TokenService

    settings = Settings()
    if settings.is_prod:
        typer.echo(
            "bondflow token is refused in prod: tokens come from POST /v1/auth/token or your OIDC issuer",
            err=True,
        )
        raise typer.Exit(2)
    from datetime import timedelta

    from bondflow.bootstrap import clock_from

    key = SigningKey.load_or_create(settings.resolved_data_dir)
    service = TokenService(key, clock_from(settings), timedelta(seconds=settings.token_ttl_seconds))
    claims = {"residency": residency, "investor_category": category}
    if kyc_verified:
        claims |= {"kyc_status": "verified", "kyc_tier": "full"}
    typer.echo(service.mint(sub or str(uuid.uuid4()), role, claims))


@cli.command()
def verify() -> None:
    """Check the regulator hash chain, every published event against the event store, and the signed
    checkpoints, offline; exit 1 naming the first bad seq."""
    from rich.console import Console

    from bondflow.audit.verify import verify as run_verify
    from bondflow.auth.keys import SigningKey
    from bondflow.bootstrap import open_store

    settings = Settings()
    console = Console(stderr=True)
    db, store = open_store(settings)
    key = SigningKey.load_or_create(settings.resolved_data_dir)
    try:
        with console.status("verifying the hash chain…") as status:
            report = run_verify(db, store, key.verify, lambda n: status.update(f"verified {n} events…"))
    finally:
        store.close()
        db.close()
    if report.ok:
        typer.echo(
            f"OK: {report.events} events chained and matching the event store; {report.checkpoints} signed checkpoints valid"
        )
        return
    typer.echo(f"FAILED at seq {report.first_bad_seq}: {report.problem}")
    raise typer.Exit(1)


@cli.command()
def replay(
    as_of: Annotated[str | None, typer.Option("--as-of", help="a log position, or an ISO-8601 time")] = None,
    switch: Annotated[
        bool, typer.Option("--switch", help="replace the live read models with the rebuilt ones")
    ] = False,
    skip_clickhouse: Annotated[bool, typer.Option("--skip-clickhouse")] = False,
) -> None:
    """Rebuild every read model from the log into fresh tables, compare checksums with the live ones."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    from bondflow.adapters.clickhouse import ClickHouse, default_dsn
    from bondflow.auth.keys import SigningKey
    from bondflow.bootstrap import clickhouse_read_models, open_store, postgres_read_models
    from bondflow.replay import resolve_upto, run_replay

    settings = Settings()
    console = Console(stderr=True)
    db, store = open_store(settings)
    key = SigningKey.load_or_create(settings.resolved_data_dir)
    clickhouse = None
    if not skip_clickhouse:
        try:
            clickhouse = ClickHouse(
                settings.clickhouse_dsn or default_dsn(settings.resolved_data_dir),
                settings.clickhouse_database,
            )
            clickhouse.ping()
        except Exception as exc:
            store.close()
            db.close()
            typer.echo(
                f"cannot open ClickHouse ({type(exc).__name__}: {exc}). With the embedded chDB only one process may "
                "use its data path: stop `bondflow serve` first, point BONDFLOW_CLICKHOUSE_DSN at a server, or pass "
                "--skip-clickhouse.",
                err=True,
            )
            raise typer.Exit(2) from None
    upto = resolve_upto(store, db, as_of)
    columns = (
        TextColumn("replaying"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]} ev/s"),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("replay", total=max(upto, 1), rate="-")
            started = [0.0]

            def advance(read: int, position: int) -> None:
                import time

                started[0] = started[0] or time.perf_counter()
                elapsed = max(time.perf_counter() - started[0], 1e-6)
                bar.update(task, completed=position, rate=f"{read / elapsed:,.0f}")

            report = run_replay(
                store,
                db,
                lambda replica: postgres_read_models(replica, key),
                clickhouse,
                clickhouse_read_models,
                as_of=as_of,
                switch=switch,
                progress=advance,
            )
    finally:
        store.close()
        db.close()
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
    if not report.matches:
        raise typer.Exit(1)


def main() -> None:
    from bondflow.errors import ConfigurationError

    try:
        cli()
    except ConfigurationError as exc:  # a clear sentence, not a stack trace
        typer.echo(f"bondflow: {exc.message}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
