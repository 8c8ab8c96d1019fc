"""Corporate actions: coupons, redemptions, TDS, declarations and their routes."""
