"""The regulator contract in Avro: schemas per topic, record encoding with single-object framing, and the
FULL_TRANSITIVE compatibility check that CI runs without a registry server."""
