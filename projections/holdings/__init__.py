"""Holdings and their valuation, and the portfolio routes."""
