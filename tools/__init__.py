"""Developer tools: the Kafka broker fetch and the benchmarks."""
