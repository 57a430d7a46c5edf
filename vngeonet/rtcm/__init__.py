"""RTCM 10403.3 (RTCM 3) framing, decoding and encoding."""
