"""Investor profiles and KYC status."""
