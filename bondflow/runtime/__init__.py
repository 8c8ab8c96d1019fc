"""The runtime: event store, follower runtime (runners, positions), resilience, clock, processes."""
