"""Corporate-action commands: paying holders their coupons and redemptions."""
