"""Carrier frequencies and wavelengths of GNSS signals, by RINEX 3 signal code.

A signal is named by its RINEX 3 observation code without the type letter
(``"1C"``, ``"2W"``, ``"5Q"``); its first character is the frequency band,
which with the system letter fixes the carrier.  GLONASS FDMA signals
(bands 1 and 2) also need the satellite's frequency channel number
``k`` (-7..+6).

References
----------
IS-GPS-200N §3.3.1.1, IS-GPS-705J §3.3.1.1 (L1 1575.42, L2 1227.60, L5 1176.45 MHz);
GLONASS ICD 5.1 §3.3.1.4 (G1 = 1602 + 0.5625 k MHz, G2 = 1246 + 0.4375 k MHz), GLONASS CDMA ICDs
(G1a 1600.995, G2a 1248.06, G3 1202.025 MHz); Galileo OS SIS ICD 2.1 §2.3 (E1, E5a, E5b, E5, E6);
BDS-SIS-ICD B1I 3.0, B1C 1.0, B2a 1.0, B3I 1.0 (B1I 1561.098, B3I 1268.52 MHz); IS-QZSS-PNT-005 (L6 1278.75 MHz);
IRNSS SIS ICD SPS 1.1 (L5 1176.45, S 2492.028 MHz); RINEX 3.05 §5.1 (band numbers).
"""

from __future__ import annotations

import math

C_MPS = 299792458.0  # speed of light in vacuum (IS-GPS-200 §20.3.4.3)

GLO_CHANNEL_MIN = -7
GLO_CHANNEL_MAX = 6

# GLONASS FDMA: (centre frequency of channel 0, channel spacing), Hz.
GLO_FDMA_HZ: dict[str, tuple[float, float]] = {
    "1": (1602.0e6, 0.5625e6),
    "2": (1246.0e6, 0.4375e6),
}

# Carrier frequency (Hz) per system letter and RINEX band number (CDMA signals).
BAND_FREQ_HZ: dict[str, dict[str, float]] = {
    "G": {"1": 1575.42e6, "2": 1227.60e6, "5": 1176.45e6},
    "R": {"3": 1202.025e6, "4": 1600.995e6, "6": 1248.06e6},
    "E": {"1": 1575.42e6, "5": 1176.45e6, "7": 1207.14e6, "8": 1191.795e6, "6": 1278.75e6},
    "S": {"1": 1575.42e6, "5": 1176.45e6},
    "J": {"1": 1575.42e6, "2": 1227.60e6, "5": 1176.45e6, "6": 1278.75e6},
    "C": {
        "1": 1575.42e6,
        "2": 1561.098e6,
        "5": 1176.45e6,
        "7": 1207.14e6,
        "8": 1191.795e6,
        "6": 1268.52e6,
    },
    "I": {"1": 1575.42e6, "5": 1176.45e6, "9": 2492.028e6},
}


def is_fdma(system: str, sig: str) -> bool:
    """True when the signal's carrier depends on the GLONASS channel number."""
    return system == "R" and sig[:1] in GLO_FDMA_HZ


def band_parameters(system: str, sig: str) -> tuple[float, float]:
    """Carrier of channel 0 and the channel step, Hz (step 0 for CDMA signals).

    ``frequency_hz = f0 + k * step``.  Returns ``(nan, 0.0)`` for an unknown
    system/band, so that table builders get NaN wavelengths instead of errors.
    """
    band = sig[:1]
    if system == "R" and band in GLO_FDMA_HZ:
        return GLO_FDMA_HZ[band]
    return BAND_FREQ_HZ.get(system, {}).get(band, float("nan")), 0.0


def frequency_hz(system: str, sig: str, glo_k: int | None = None) -> float:
    """Carrier frequency of a signal, Hz.

    Parameters
    ----------
    system : str
        System letter ``"G" "R" "E" "S" "J" "C" "I"``.
    sig : str
        RINEX 3 signal code, e.g. ``"1C"`` (only the band digit matters).
    glo_k : int, optional
        GLONASS frequency channel number, -7..+6; required for GLONASS G1/G2.

    Raises
    ------
    ValueError
        Unknown system or band, or a GLONASS FDMA signal without a valid ``glo_k``.

    Examples
    --------
    >>> frequency_hz("G", "1C")
    1575420000.0
    >>> frequency_hz("R", "1C", glo_k=-7)
    1598062500.0
    """
    f0, step = band_parameters(system, sig)
    if math.isnan(f0):
        raise ValueError(f"unknown signal {system}{sig}")
    if step:
        if glo_k is None or not GLO_CHANNEL_MIN <= glo_k <= GLO_CHANNEL_MAX:
            raise ValueError(f"GLONASS {sig} needs a frequency channel -7..+6, got {glo_k!r}")
        return f0 + glo_k * step
    return f0


def wavelength_m(system: str, sig: str, glo_k: int | None = None) -> float:
    """Carrier wavelength of a signal, metres (see :func:`frequency_hz`).

    >>> round(wavelength_m("G", "1C"), 6)
    0.190294
    """
    return C_MPS / frequency_hz(system, sig, glo_k)
