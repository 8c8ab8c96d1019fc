"""BondFlow: event-sourced CQRS backend for trading tokenized Indian bonds."""
