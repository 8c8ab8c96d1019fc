"""Security: tokens and OIDC, personal-data vault, passwords, webhooks, rate limits, log scrubbing."""
