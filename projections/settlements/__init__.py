"""Settlements: one row per trade's DvP saga."""
