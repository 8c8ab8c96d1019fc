"""Instrument and calendar commands (admin)."""
