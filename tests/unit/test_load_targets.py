"""The load bench judges each run against issue 11's targets in code; these pin what counts as met."""

from __future__ import annotations

from dataclasses import replace

from tools.bench.load_targets import RunFigures, checks, lag_grows, meets_all, verdict

GOOD = RunFigures(
    profile="realistic",
    rate=20,
    acks_ms=[20.0] * 99 + [45.0],
    to_filled_s=[3.3] * 99 + [4.0],
    sent=100,
    accepted=100,
    filled=100,
    server_errors=0,
    unanswered=0,
    lag_samples=[0, 900, 1100, 950, 1000, 1050, 980, 1020, 990],
    drained_after_s=4.2,
)


def test_a_run_within_every_target_meets_them_all() -> None:
    assert meets_all(GOOD)
    assert verdict(GOOD) == "20/s realistic: every target met"


def test_each_target_can_be_missed_on_its_own() -> None:
    missed = {
        "ack p99": replace(GOOD, acks_ms=[20.0] * 98 + [60.0, 70.0]),
        "answers": replace(GOOD, server_errors=1),
        "all FILLED": replace(GOOD, filled=99),
        "lag steady": replace(GOOD, lag_samples=[0, 500, 900, 1400, 2000, 2600, 3300, 4100, 5000]),
        "lag drained": replace(GOOD, drained_after_s=5.5),
        "FILLED median": replace(GOOD, to_filled_s=[3.6] * 100),
        "FILLED p99": replace(GOOD, to_filled_s=[3.3] * 98 + [5.5, 6.0]),
    }
    for name, run in missed.items():
        failed = [c.name for c in checks(run) if not c.met]
        assert failed == [name], (name, failed)
        assert name in verdict(run)


def test_the_zero_profile_wants_a_median_of_150_ms() -> None:
    zero = replace(GOOD, profile="zero", to_filled_s=[0.14] * 100)
    assert meets_all(zero)
    assert not meets_all(replace(zero, to_filled_s=[0.16] * 100))


def test_a_steady_lag_with_noise_is_not_growth_but_a_climb_is() -> None:
    assert not lag_grows([0, 1200, 800, 1500, 700, 1300, 900, 1100, 1000])
    assert lag_grows([100, 200, 400, 800, 1600, 3200])
    assert not lag_grows([0, 50, 10])  # too short to tell
