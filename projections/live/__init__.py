"""Each investor's live updates: the read model, its queries, and the SSE and WebSocket routes."""
