"""Ledger commands: reconciliation of the escrow bank's statement with the ledger."""
