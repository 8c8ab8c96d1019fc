"""The regulator stream, its queries and routes, and the Kafka relay."""
