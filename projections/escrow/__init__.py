"""Escrow balances and payments, and their routes."""
