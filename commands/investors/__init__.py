"""Investor commands: sign-up, login, erasure, KYC."""
