"""Trades: one row per dealer fill."""
