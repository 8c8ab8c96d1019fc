"""Payment commands: deposits, withdrawals, the provider's webhook, the escrow service."""
