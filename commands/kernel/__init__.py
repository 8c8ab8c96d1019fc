"""The command kernel every handler uses: command context, idempotency, loading, one conflict policy."""
