"""The `bondflow` command: serve the API, run one follower, mint a dev token."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from bondflow.auth.principal import Role
from bondflow.settings import Settings

cli = typer.Typer(help="BondFlow: tokenized bond trading backend", no_args_is_help=True, add_completion=False)


@cli.command()
def serve(
    workers: Annotated[
        bool, typer.Option("--workers/--no-workers", help="run the followers in-process")
    ] = True,
) -> None:
    """Serve the HTTP API (and, by default, every follower in the same process)."""
    import uvicorn

    from bondflow.api.app import create_app
    from bondflow.bootstrap import bootstrap
    from bondflow.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    container = bootstrap(settings)
    if settings.seed_demo_data and not settings.is_prod:
        from bondflow.seed import seed_demo

        seed_demo(container.instruments)
    if workers:
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


@cli.command()
def worker(
    name: Annotated[str, typer.Argument(help="follower name, e.g. orders_view or order_flow")],
) -> None:
    """Run one follower until interrupted (only one copy leads; others stand by)."""
    from bondflow.bootstrap import bootstrap
    from bondflow.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    container = bootstrap(settings)
    if name not in container.followers:
        container.close()
        raise typer.BadParameter(f"unknown follower {name!r}; choose from {sorted(container.followers)}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    container.start_followers([name])
    try:
        stop.wait()
    finally:
        container.close()


@cli.command()
def token(
    role: Annotated[Role, typer.Option(help="investor, ops, admin or regulator")],
    sub: Annotated[str | None, typer.Option(help="subject (user id); random if omitted")] = None,
) -> None:
    """Print a bearer token signed with the local key (refused in prod)."""
    import uuid

    from bondflow.auth.keys import SigningKey
    from bondflow.auth.tokens import TokenService
    from bondflow.clock import SystemClock

    settings = Settings()
    if settings.is_prod:
        typer.echo(
            "bondflow token is refused in prod: tokens come from POST /v1/auth/token or your OIDC issuer",
            err=True,
        )
        raise typer.Exit(2)
    from datetime import timedelta

    key = SigningKey.load_or_create(settings.resolved_data_dir)
    service = TokenService(key, SystemClock(), timedelta(seconds=settings.token_ttl_seconds))
    typer.echo(service.mint(sub or str(uuid.uuid4()), role))


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


def main() -> None:
    from bondflow.errors import ConfigurationError

    try:
        cli()
    except ConfigurationError as exc:  # a clear sentence, not a stack trace
        typer.echo(f"bondflow: {exc.message}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
