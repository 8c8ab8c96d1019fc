"""`make bench`: the command path and a raw INSERT baseline, measured against the same PostgreSQL."""
