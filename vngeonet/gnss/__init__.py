"""GNSS fundamentals: time scales, constants, signals, coordinates."""
