"""ClickHouse analytics: order flow and fill analytics."""
