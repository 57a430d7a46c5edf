"""vngeonet.gnss.signals: carrier frequencies and wavelengths (ICD values)."""

import math

import pytest

from vngeonet.gnss import signals


@pytest.mark.parametrize(
    "system,sig,f_mhz",
    [
        ("G", "1C", 1575.42),
        ("G", "2W", 1227.60),
        ("G", "5Q", 1176.45),
        ("E", "1X", 1575.42),
        ("E", "5Q", 1176.45),
        ("E", "7Q", 1207.14),
        ("E", "8X", 1191.795),
        ("E", "6C", 1278.75),
        ("C", "2I", 1561.098),
        ("C", "6I", 1268.52),
        ("C", "7I", 1207.14),
        ("C", "1P", 1575.42),
        ("C", "5P", 1176.45),
        ("C", "7D", 1207.14),
        ("J", "1C", 1575.42),
        ("J", "2L", 1227.60),
        ("J", "6L", 1278.75),
        ("S", "1C", 1575.42),
        ("S", "5I", 1176.45),
        ("I", "5A", 1176.45),
        ("I", "9A", 2492.028),
        ("R", "3Q", 1202.025),
        ("R", "4A", 1600.995),
        ("R", "6A", 1248.06),
    ],
)
def test_cdma_frequencies(system, sig, f_mhz):
    assert signals.frequency_hz(system, sig) == pytest.approx(f_mhz * 1e6, abs=1e-3)
    assert signals.wavelength_m(system, sig) == pytest.approx(
        signals.C_MPS / (f_mhz * 1e6), rel=1e-15
    )


@pytest.mark.parametrize("k", range(-7, 7))
def test_glonass_fdma(k):
    assert signals.frequency_hz("R", "1C", k) == pytest.approx(1602e6 + k * 562.5e3, abs=1e-6)
    assert signals.frequency_hz("R", "2P", k) == pytest.approx(1246e6 + k * 437.5e3, abs=1e-6)
    assert signals.is_fdma("R", "1P") and not signals.is_fdma("R", "3I")


def test_glonass_needs_channel():
    with pytest.raises(ValueError):
        signals.frequency_hz("R", "1C")
    with pytest.raises(ValueError):
        signals.frequency_hz("R", "1C", glo_k=7)


def test_unknown_signal():
    with pytest.raises(ValueError):
        signals.frequency_hz("G", "7Q")
    with pytest.raises(ValueError):
        signals.wavelength_m("X", "1C")
    f0, step = signals.band_parameters("G", "9X")
    assert math.isnan(f0) and step == 0.0


def test_gps_l1_wavelength():
    assert signals.wavelength_m("G", "1C") == pytest.approx(0.19029367279836487, rel=1e-12)
