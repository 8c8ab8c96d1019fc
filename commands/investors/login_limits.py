"""Login and sign-up limits, in PostgreSQL (shared by every API process, kept across restarts).

A login attempt takes one token from each of: its IP (`BONDFLOW_LOGIN_ATTEMPTS_PER_IP_PER_MINUTE`, 30), the
account from that IP (`…_PER_ACCOUNT_IP_PER_MINUTE`, 5) and the account from anywhere
(`…_PER_ACCOUNT_PER_HOUR`, 100, refilled over the hour). A stranger guessing from one address exhausts only
their own (account, IP) bucket within a minute, so the owner, from another address, still logs in; a
distributed guess is slowed by the account's hourly bucket. Every attempt counts, before the password is
checked, and unknown emails are limited alike (no enumeration). A sign-up takes one token per IP
(`BONDFLOW_SIGN_UPS_PER_IP_PER_MINUTE`, 20).
"""

from __future__ import annotations

from dataclasses import dataclass

from bondflow.adapters.rate_buckets import Bucket, TokenBuckets
from bondflow.security.ratelimit import refuse_unless_granted
from bondflow.settings import Settings

MINUTE, HOUR = 60, 3600


@dataclass(frozen=True, slots=True)
class LoginLimits:
    buckets: TokenBuckets
    settings: Settings

    def log_in(self, client_ip: str, account: str) -> None:
        """`account` is the keyed hash of the email tried (never the email itself)."""
        s = self.settings
        if not s.rate_limits_enabled:
            return
        refuse_unless_granted(
            self.buckets.take(
                [
                    Bucket(
                        "logins-per-ip", f"login-ip:{client_ip}", s.login_attempts_per_ip_per_minute, MINUTE
                    ),
                    Bucket(
                        "logins-per-account-and-ip",
                        f"login-account-ip:{account}|{client_ip}",
                        s.login_attempts_per_account_ip_per_minute,
                        MINUTE,
                    ),
                    Bucket(
                        "logins-per-account",
                        f"login-account:{account}",
                        s.login_attempts_per_account_per_hour,
                        HOUR,
                    ),
                ]
            )
        )

    def sign_up(self, client_ip: str) -> None:
        s = self.settings
        if s.rate_limits_enabled:
            bucket = Bucket(
                "sign-ups-per-ip", f"sign-up-ip:{client_ip}", s.sign_ups_per_ip_per_minute, MINUTE
            )
            refuse_unless_granted(self.buckets.take([bucket]))
