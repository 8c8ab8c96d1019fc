"""Read models as they stood at a log position, for as-of queries (`GET /v1/portfolio/holdings?as_of=`).

The named read models from the one registry (`bootstrap.postgres_read_models`) are rebuilt from the log up to
the position in temporary tables of one private session: they are visible to that session only and vanish
when it closes, so an as-of query creates no schema, drops nothing and leaves nothing behind if it dies."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from bondflow.adapters.postgres import Database, conninfo
from bondflow.wiring.bootstrap import postgres_read_models
from bondflow.wiring.container import Container
from bondflow.wiring.replay import feed


@contextlib.contextmanager
def read_models_as_of(container: Container, upto: int, names: frozenset[str]) -> Iterator[Database]:
    """A one-connection pool whose tables are the read models `names`, rebuilt up to `upto`."""
    private = Database(
        conninfo(container.db.url, options="-c search_path=pg_temp"),
        pool_size=1,
        name="as-of",
        nested=container.db.nested,
    )
    private.open()
    try:
        followers = [f for f in postgres_read_models(private, container.signing_key) if f.name in names]
        missing = names - {f.name for f in followers}
        if missing:
            raise LookupError(f"no read model named {sorted(missing)}")
        for follower in followers:
            follower.setup()
        feed(container.store, followers, upto)
        yield private
    finally:
        private.close()
