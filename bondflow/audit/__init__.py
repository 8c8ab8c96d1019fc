"""The audit trail: canonical event bytes, the SHA-256 hash chain and signed Merkle checkpoints (pure)."""
