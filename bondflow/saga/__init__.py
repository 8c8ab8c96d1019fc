"""The DvP settlement saga: pure decisions, the saga follower and the deadline timer."""
