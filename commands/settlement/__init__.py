"""Settlement commands: the saga's transitions and break resolution."""
