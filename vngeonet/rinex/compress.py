"""Open RINEX files whatever their packing: plain, gzip, unix compress (.Z), zip, bzip2, Hatanaka.

The packing is detected from the content (magic bytes, the ``CRINEX VERS / TYPE``
label), not from the file name, and layers are peeled until plain RINEX text
remains (e.g. ``.crx.gz`` = gzip around Compact RINEX).

References
----------
RFC 1952 (gzip); the LZW ``compress`` format (magic 0x1F 0x9D); PKWARE APPNOTE
(zip); Y. Hatanaka, "A Compression Format and Tools for GNSS Observation Data",
Bull. GSI 55 (2008) — Compact RINEX 1.0 (RINEX 2) and 3.0 (RINEX 3/4).

Compact RINEX is expanded by the compiled ``crx`` kernel
(``crx_to_rnx``, byte-identical to RNXCMP ``crx2rnx`` on every CRX file of the
test data, 3-5x faster than calling it); without the compiled kernel the
``hatanaka`` package (RNXCMP ``crx2rnx`` run as a subprocess) is used, and the
pure-Python twin only when neither is available.
"""

from __future__ import annotations

import bz2
import gzip
import io
import logging
import os
import zipfile
import zlib

from vngeonet.errors import RINEXError

log = logging.getLogger(__name__)

MAGIC_GZIP = b"\x1f\x8b"
MAGIC_COMPRESS = b"\x1f\x9d"
MAGIC_ZIP = b"PK\x03\x04"
MAGIC_BZIP2 = b"BZh"
CRINEX_LABEL = b"CRINEX VERS   / TYPE"


def detect(data: bytes) -> str:
    """Name of the outer packing of ``data``.

    Returns
    -------
    str
        ``"gzip"``, ``"compress"``, ``"zip"``, ``"bzip2"``, ``"hatanaka"`` or
        ``"plain"``.

    Examples
    --------
    >>> detect(b"\\x1f\\x8b\\x08...")
    'gzip'
    >>> detect(b"     3.04           OBSERVATION DATA    M")
    'plain'
    """
    if data.startswith(MAGIC_GZIP):
        return "gzip"
    if data.startswith(MAGIC_COMPRESS):
        return "compress"
    if data.startswith(MAGIC_ZIP):
        return "zip"
    if data.startswith(MAGIC_BZIP2) and len(data) > 3 and data[3:4].isdigit():
        return "bzip2"
    first = data[:200].split(b"\n", 1)[0]
    if CRINEX_LABEL in first:
        return "hatanaka"
    return "plain"


def _gunzip(data: bytes) -> bytes:
    # zlib handles concatenated members poorly; gzip.decompress handles them all.
    return gzip.decompress(data)


def _uncompress(data: bytes) -> bytes:
    import ncompress

    return ncompress.decompress(data)


def _unzip(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        if len(names) != 1:
            raise ValueError(f"zip archive holds {len(names)} files, expected exactly one")
        return zf.read(names[0])


def _crx2rnx(data: bytes) -> bytes:
    from vngeonet import kernels

    if not kernels.PUREPYTHON and kernels.compiled("crx") is not None:
        return kernels.get("crx").crx_to_rnx(data)
    try:
        import hatanaka
    except ImportError:
        return kernels.python("crx").crx_to_rnx(data)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hatanaka.crx2rnx(data)


_UNPACK = {
    "gzip": _gunzip,
    "compress": _uncompress,
    "zip": _unzip,
    "bzip2": bz2.decompress,
    "hatanaka": _crx2rnx,
}


def unpack(data: bytes, source: str | None = None) -> tuple[bytes, list[str]]:
    """Peel every packing layer off ``data``.

    Parameters
    ----------
    data : bytes
        File content.
    source : str, optional
        Name used in error messages.

    Returns
    -------
    text : bytes
        Plain RINEX text.
    layers : list of str
        The layers removed, outermost first (e.g. ``["gzip", "hatanaka"]``).

    Raises
    ------
    RINEXError
        A layer is corrupt (bad CRC, truncated stream, Hatanaka error).
    """
    layers: list[str] = []
    for _ in range(6):
        kind = detect(data)
        if kind == "plain":
            return data, layers
        try:
            data = _UNPACK[kind](data)
        except RINEXError as err:
            msg = str(err).split(": ", 1)[-1] if err.line is not None else str(err)
            raise RINEXError(f"cannot expand {kind} content: {msg}", source=source, line=err.line) from None
        except (OSError, EOFError, ValueError, zlib.error, zipfile.BadZipFile, RuntimeError) as err:
            raise RINEXError(f"cannot expand {kind} content: {err}", source=source) from err
        layers.append(kind)
        log.debug("%s: removed %s layer (%d bytes now)", source, kind, len(data))
    raise RINEXError("too many nested compression layers", source=source)


def read_bytes(path: str | os.PathLike) -> tuple[bytes, list[str]]:
    """Read a file and return its plain RINEX text and the layers removed (see :func:`unpack`)."""
    with open(path, "rb") as f:
        data = f.read()
    return unpack(data, source=str(path))
