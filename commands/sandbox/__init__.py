"""The sandbox's fault switches."""
