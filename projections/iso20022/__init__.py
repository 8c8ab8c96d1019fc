"""ISO 20022 messages (sese.023/025, semt.002, seev.036, camt.053) from the read models."""
