"""Trading commands: place and cancel orders, with the facts pre-trade checks decide on."""
