"""What every read model shares: the projector bases, pagination, read-your-writes waiting."""
