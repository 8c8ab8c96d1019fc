"""The HTTP edge: envelope, errors, dependencies, middleware and the application factory."""
