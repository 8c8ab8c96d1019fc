"""Tax commands: 15G/15H declarations."""
