"""The one composition root: settings → every service, and the one registry of followers."""
