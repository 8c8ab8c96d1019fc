"""The write side: command handlers per context and the command routes that call them."""
