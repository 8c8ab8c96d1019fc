"""The bond master, the calendar and bond analytics."""
