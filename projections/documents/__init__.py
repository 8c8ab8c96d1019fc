"""Investor documents: contract notes and statements, as JSON and PDF."""
