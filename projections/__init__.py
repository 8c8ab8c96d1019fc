"""The read side: projectors that build read models from the log, and the query routes over them."""
