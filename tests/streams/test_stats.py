"""Per-stream statistics with an injected clock."""

from __future__ import annotations

import pytest

from tests.streams.test_reconnect import FakeClock
from vngeonet.streams.stats import StreamStats


def test_bytes_gaps_rates_latency():
    clock = FakeClock()
    st = StreamStats(clock=clock, gap_threshold_s=5.0)
    for k in range(10):
        st.record_bytes(100)
        st.record_frame(1077, latency_s=0.5 + 0.01 * k)
        st.record_frame(1087)
        clock.t += 1.0
    clock.t += 20.0  # silence
    st.record_bytes(50)
    st.record_crc_failure()
    snap = st.snapshot()
    assert snap["bytes"] == 1050 and snap["chunks"] == 11
    assert snap["gaps"] == 1 and st.longest_gap_s == pytest.approx(21.0)
    assert snap["frames"] == {"1077": 10, "1087": 10} and snap["crc_failures"] == 1
    assert snap["latency_p50_s"] == pytest.approx(0.55) and snap["latency_max_s"] == pytest.approx(0.59)
    rates = st.rates_hz(horizon_s=60.0)
    assert rates[1077] == pytest.approx(10 / 30.0)
    assert st.silence_s() == 0.0
