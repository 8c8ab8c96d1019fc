"""Orders: the read model, its queries and the order, trade and analytics query routes."""
