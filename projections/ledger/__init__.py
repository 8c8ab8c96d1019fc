"""The ledger: accounts, balances and journal entries, and the ops routes."""
