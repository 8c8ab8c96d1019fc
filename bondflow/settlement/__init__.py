"""The DvP settlement saga: pure decisions, the saga follower, the effect workers and the deadline timer."""
