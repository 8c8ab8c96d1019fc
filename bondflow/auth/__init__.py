"""Authentication and authorisation: signing keys, bearer tokens, roles and scopes."""
