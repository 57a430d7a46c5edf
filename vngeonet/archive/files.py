"""Crash-safe RINEX archive files: one product (span x interval) of one station.

Layout ``<root>/YYYY/DDD/`` (GPS date of the file start), RINEX 3 long names,
Hatanaka + gzip when asked.

Crash safety (kill -9 at any moment):

* the file being filled is ``<final name>.part`` beside its final place: a
  valid RINEX file (header + whole epochs) that is appended to and flushed +
  fsync'ed every ``flush_interval_s`` of data time; a crash loses at most the
  epochs of the last flush interval and at most one partial epoch record at
  the end, which :func:`recover` cuts off;
* a new observation type never moves existing columns: it is appended to its
  system's list, and only the header is rewritten (temporary file + atomic
  ``os.replace``), so every record already written stays valid;
* closing builds the final file (header with TIME OF LAST OBS, optional
  Hatanaka + gzip) in a temporary file, fsyncs it, renames it atomically to
  its final name and only then removes the ``.part``;
* :func:`recover` (run at start-up) finishes every ``.part`` left by a crash.

References: RINEX 3.05 §4 (long names) and Table A2/A3; Hatanaka, J. Geod.
Soc. Japan 54 (2008) (CRINEX).
"""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path

from vngeonet.gnss.time import GPSTime
from vngeonet.model import ObsEpoch
from vngeonet.rinex.writer import (
    LockTracker,
    ObsHeader,
    format_epoch,
    format_nav_header,
    format_obs_header,
    long_name,
    on_interval,
)

log = logging.getLogger(__name__)

PART = ".part"


def day_dir(root, t: GPSTime) -> Path:
    """``<root>/YYYY/DDD`` of GPS time ``t``."""
    d = t.to_datetime()
    return Path(root) / f"{d.year:04d}" / f"{d.timetuple().tm_yday:03d}"


def window_start(t: GPSTime, span_s: int) -> GPSTime:
    """Start of the ``span_s`` window holding ``t`` (aligned to GPS days)."""
    s = t.seconds
    day0 = s - (s % 86400.0)
    return GPSTime.from_seconds(day0 + ((s - day0) // span_s) * span_s)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data) -> None:
    """Write ``data`` (bytes, or a list of bytes written in order) to ``path`` through a
    temporary file, fsync and ``os.replace``."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        if isinstance(data, list | tuple):
            fh.writelines(data)
        else:
            fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def compress_rinex(text: bytes, *, hatanaka: bool) -> bytes:
    """Hatanaka (CRINEX) then gzip, or gzip only."""
    if hatanaka:
        import hatanaka as _hk

        text = _hk.rnx2crx(text)
    return gzip.compress(text, compresslevel=6, mtime=0)


def final_name(part: Path) -> Path:
    """Final path of a ``.part`` file (``.rnx`` -> ``.crx.gz`` when compressed)."""
    return part.with_name(part.name[: -len(PART)])


class ObsFile:
    """One archive product of one station: files of ``span_s`` at ``interval_s``.

    Parameters
    ----------
    root : path
        Archive root.
    station9 : str
        RINEX long station name, e.g. ``HNOI00VNM``.
    header_fn : callable
        ``header_fn(obs_types, first_obs, interval_s) -> ObsHeader`` (from config + stream metadata).
    span_s, interval_s : int, float
        File span (900, 3600, 86400) and sampling interval.
    version : int
        3 or 4.
    compress : bool
        Hatanaka + gzip the closed files (``.crx.gz``); else ``.rnx``.
    flush_interval_s : float
        Data-time interval between fsyncs of the open file.
    """

    def __init__(self, root, station9: str, header_fn, *, span_s: int = 3600, interval_s: float = 1.0,
                 version: int = 3, compress: bool = True, flush_interval_s: float = 10.0):
        self.root, self.station9, self.header_fn = Path(root), station9, header_fn
        self.span_s, self.interval_s, self.version = int(span_s), float(interval_s), version
        self.compress, self.flush_interval_s = compress, flush_interval_s
        self.start: GPSTime | None = None
        self.part: Path | None = None
        self.obs_types: dict = {}
        self._known: set = set()
        self.closed_files: list[Path] = []
        self._fh = None
        self._body_at = 0
        self._first = self._last = None
        self._last_flush_s = None
        self._lock = LockTracker()
        self.epochs_written = 0

    def add(self, obs: ObsEpoch) -> None:
        """Write one epoch (skipped when it is off the sampling grid)."""
        if not on_interval(obs.time, self.interval_s):
            return
        if self._last is not None and obs.time.seconds <= self._last.seconds + 1e-6:
            return  # duplicate or out of order: RINEX epochs must increase
        if self.start is not None and obs.time.seconds >= self.start.seconds + self.span_s - 1e-6:
            self.close()
        if self.start is None:
            self._open(obs)
        self._grow_types(obs)
        self._fh.write(format_epoch(obs, self.obs_types, self._lock.lli(obs)).encode("ascii"))
        self._last = obs.time
        self.epochs_written += 1
        if self._last_flush_s is None or obs.time.seconds - self._last_flush_s >= self.flush_interval_s:
            self.flush()

    def _open(self, obs: ObsEpoch) -> None:
        self.start = window_start(obs.time, self.span_s)
        ext = "crx.gz" if self.compress else "rnx"
        name = long_name(self.station9, self.start, self.span_s, interval_s=self.interval_s, ext=ext)
        d = day_dir(self.root, self.start)
        d.mkdir(parents=True, exist_ok=True)
        self.part = d / (name + PART)
        self._first, self._last, self.obs_types, self._known = obs.time, None, {}, set()
        self._lock = LockTracker()
        self._grow_types(obs, rewrite=False)
        head = self._header().encode("ascii")
        self._fh = open(self.part, "wb")
        self._fh.write(head)
        self._body_at = len(head)
        self.flush()

    def _header(self, last: GPSTime | None = None) -> str:
        h: ObsHeader = self.header_fn(self.obs_types, self._first, self.interval_s)
        h.last_obs = last
        return format_obs_header(h, self.version)

    def _grow_types(self, obs: ObsEpoch, rewrite: bool = True) -> None:
        pairs = {(s[0], g) for s, g in zip(obs.sat.tolist(), obs.sig.tolist())}
        pairs -= self._known
        if not pairs:
            return
        for sys_, sig in sorted(pairs):
            self.obs_types.setdefault(sys_, []).extend(k + sig for k in "CLDS")
        self._known |= pairs
        new = True
        if new and rewrite:
            self._rewrite_header()

    def _rewrite_header(self) -> None:
        """New header, same records: temp file + atomic rename."""
        self._fh.flush()
        self._fh.close()
        body = self.part.read_bytes()[self._body_at:]
        head = self._header().encode("ascii")
        atomic_write(self.part, head + body)
        self._body_at = len(head)
        self._fh = open(self.part, "ab")

    def flush(self) -> None:
        """Flush and fsync the open file."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            if self._last is not None:
                self._last_flush_s = self._last.seconds

    def close(self) -> Path | None:
        """Finish the open file: final header, compression, atomic rename; returns its path."""
        if self._fh is None:
            return None
        self._fh.flush()
        self._fh.close()
        self._fh = None
        body = self.part.read_bytes()[self._body_at:]
        text = self._header(self._last).encode("ascii") + body
        out = finalize_bytes(text, self.part, compress=self.compress)
        self.closed_files.append(out)
        self.start = None
        return out


def finalize_bytes(text: bytes, part: Path, *, compress: bool) -> Path:
    """Write the final file of ``part`` atomically, then remove ``part``."""
    final = final_name(part)
    data = compress_rinex(text, hatanaka=final.name.endswith(".crx.gz")) if compress else text
    atomic_write(final, data)
    part.unlink(missing_ok=True)
    log.info("archived %s", final)
    return final


def cut_to_whole_epochs(text: bytes) -> bytes:
    """``text`` without a trailing partial epoch record (RINEX 3/4 observation body)."""
    end = text.find(b"END OF HEADER")
    if end < 0:
        return b""
    pos = text.find(b"\n", end) + 1
    good = pos
    n = len(text)
    while pos < n:
        nl = text.find(b"\n", pos)
        if nl < 0 or text[pos:pos + 1] != b">":
            break
        try:
            nsat = int(text[pos + 32:pos + 35])
        except ValueError:
            break
        stop = nl + 1
        for _ in range(nsat):
            nxt = text.find(b"\n", stop)
            if nxt < 0:
                stop = -1
                break
            stop = nxt + 1
        if stop < 0:
            break
        pos = good = stop
    return text[:good]


def recover(root) -> list[Path]:
    """Finish every ``.part`` file under ``root`` left by a crash; returns the files made."""
    out = []
    for part in sorted(Path(root).rglob("*" + PART)):
        final = final_name(part)
        if final.exists():
            part.unlink()
            continue
        text = part.read_bytes()
        is_nav = b"NAV DATA" in text[:200]
        text = text if is_nav else cut_to_whole_epochs(text)
        if not text or (not is_nav and text.rstrip().endswith(b"END OF HEADER")):
            log.warning("%s: nothing recoverable, removed", part)
            part.unlink()
            continue
        out.append(finalize_bytes(text, part, compress=final.name.endswith(".gz")))
        log.warning("recovered %s after a crash", out[-1])
    return out


class NavFile:
    """Daily mixed navigation file, appended as new ephemerides arrive (same crash safety)."""

    def __init__(self, root, station9: str, *, version: int = 3, compress: bool = True):
        self.root, self.station9, self.version, self.compress = Path(root), station9, version, compress
        self.start: GPSTime | None = None
        self.part: Path | None = None
        self._fh = None
        self._seen: set = set()
        self.closed_files: list[Path] = []

    def add(self, eph, t: GPSTime, leap_s: int | None = None) -> None:
        from vngeonet.model import GlonassEphemeris
        from vngeonet.rinex.writer import format_glonass, format_kepler

        if self.start is not None and t.seconds >= self.start.seconds + 86400:
            self.close()
        if self.start is None:
            self.start = window_start(t, 86400)
            d = day_dir(self.root, self.start)
            d.mkdir(parents=True, exist_ok=True)
            name = long_name(self.station9, self.start, 86400, kind="MN", ext="rnx.gz" if self.compress else "rnx")
            self.part = d / (name + PART)
            self._fh = open(self.part, "wb")
            self._fh.write(format_nav_header(self.version, leap_s).encode("ascii"))
            self._seen = set()
        key = (eph.sat, round(eph.toe.seconds))
        if key in self._seen:
            return
        self._seen.add(key)
        rec = format_glonass(eph, self.version) if isinstance(eph, GlonassEphemeris) else format_kepler(eph, self.version)
        self._fh.write(rec.encode("ascii"))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> Path | None:
        if self._fh is None:
            return None
        self._fh.close()
        self._fh = None
        out = finalize_bytes(self.part.read_bytes(), self.part, compress=self.compress)
        self.closed_files.append(out)
        self.start = None
        return out
