"""The `bondflow` command: serve the API, run one follower, mint a dev token."""

from __future__ import annotations

import os
import signal
import threading
from datetime import UTC, datetime
from typing import Annotated

import typer

from bondflow.cli_replay import replay
from bondflow.security.principal import Role
from bondflow.settings import Settings
from commands.ledger.handlers import reconcile

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
    from bondflow.errors import ConfigurationError
    from bondflow.runtime.heap import freeze_startup_heap
    from bondflow.runtime.logs import configure_logging
    from bondflow.runtime.processes import WorkerProcess, split_followers, worker_groups
    from bondflow.wiring.bootstrap import bootstrap

    settings = Settings()
    if settings.clock_start is not None and settings.clock_anchor is None:
        # the worker process must read the same shifted clock as this one
        settings = settings.model_copy(update={"clock_anchor": datetime.now(UTC)})
    configure_logging(settings.log_level)
    container = bootstrap(settings)
    if settings.seed_demo_data and not settings.is_prod:
        from bondflow.wiring.seed import seed_demo

        seed_demo(container.instruments)
    if workers and worker_process:
        here, there = split_followers(container.followers)
        try:
            groups = worker_groups(there, settings.worker_groups)
        except ConfigurationError:
            container.close()
            raise
        container.start_followers(here)
        env = _child_env(settings, container.db.url)
        for index, group in enumerate(groups):
            child = WorkerProcess(group, env, label="worker_process" + (f"_{index + 1}" if index else ""))
            child.start()
            container.processes.append(child)
    elif workers:
        container.start_followers()
    # uvicorn re-raises the SIGTERM it shut down on; as SystemExit it closes the container below and runs the
    # exit hooks, so the embedded PostgreSQL stops with its last process (the default action skips both)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    app = create_app(container)
    freeze_startup_heap()  # full collections under load then skip what startup made (runtime/heap.py)
    try:
        uvicorn.run(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            proxy_headers=False,  # X-Forwarded-For is believed only from BONDFLOW_TRUSTED_PROXIES
            timeout_graceful_shutdown=5,
        )
    finally:
        container.close()


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


@cli.command()
def stop() -> None:
    """Stop the embedded PostgreSQL under BONDFLOW_DATA_DIR, left running by a process that was killed
    (refused while a BondFlow process still uses it: it stops by itself when the last one exits)."""
    from bondflow.adapters.postgres import stop_embedded_postgres

    settings = Settings()
    if not settings.uses_embedded_postgres:
        typer.echo("BONDFLOW_DATABASE_URL names a PostgreSQL server of its own: nothing to stop here")
        return
    try:
        typer.echo(stop_embedded_postgres(settings.resolved_data_dir))
    except RuntimeError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc


def _child_env(settings: Settings, database_url: str) -> dict[str, str]:
    env = {**os.environ, "BONDFLOW_DATABASE_URL": database_url}
    if settings.clock_anchor is not None:
        env["BONDFLOW_CLOCK_ANCHOR"] = settings.clock_anchor.isoformat()
    return env


@cli.command()
def worker(
    names: Annotated[list[str], typer.Argument(help="follower names, e.g. orders_view settlement_saga")],
    segments: Annotated[
        int, typer.Option("--segments", min=1, help="run each named follower as this many segments")
    ] = 1,
    segment: Annotated[
        list[int] | None,
        typer.Option("--segment", help="only these segments (0 … K-1) in this process; default: all"),
    ] = None,
) -> None:
    """Run followers until interrupted (only one copy of each, or of each segment, leads; others stand by)."""
    from bondflow.runtime.heap import freeze_startup_heap
    from bondflow.runtime.logs import configure_logging
    from bondflow.runtime.processes import watch_parent, yield_to_parent
    from bondflow.wiring.bootstrap import bootstrap

    settings = Settings()
    yield_to_parent(settings.worker_nice)
    configure_logging(settings.log_level)
    container = bootstrap(settings)
    unknown = sorted(set(names) - set(container.followers))
    if unknown:
        container.close()
        raise typer.BadParameter(f"unknown follower(s) {unknown}; choose from {sorted(container.followers)}")
    if segments > 1 or segment:
        from bondflow.runtime.segments import run_in_segments

        for name in names:
            try:
                run_in_segments(container.followers, name, segments, segment)
            except ValueError as exc:
                container.close()
                raise typer.BadParameter(str(exc)) from exc
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    watch_parent(stop)
    container.start_followers(names)
    freeze_startup_heap()  # full collections then skip what startup made (runtime/heap.py)
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

    from bondflow.security.keys import SigningKey
    from bondflow.security.tokens import TokenService

    settings = Settings()
    if settings.is_prod:
        typer.echo(
            "bondflow token is refused in prod: tokens come from POST /v1/auth/token or your OIDC issuer",
            err=True,
        )
        raise typer.Exit(2)
    from datetime import timedelta

    from bondflow.wiring.bootstrap import clock_from

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
    from bondflow.security.keys import SigningKey
    from bondflow.wiring.bootstrap import open_store

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


cli.command()(reconcile)
cli.command()(replay)


def main() -> None:
    from bondflow.errors import ConfigurationError

    try:
        cli()
    except ConfigurationError as exc:  # a clear sentence, not a stack trace
        typer.echo(f"bondflow: {exc.message}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
