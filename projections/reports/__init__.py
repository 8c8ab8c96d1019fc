"""Regulator and ops extracts."""
