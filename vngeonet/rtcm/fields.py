"""RTCM 3 data fields (DFs) and the bit layouts of fixed-length messages.

One table, :data:`FIELDS`, gives every data field used by the station,
descriptor and ephemeris messages: DF number -> width in bits, kind
(unsigned, two's complement, sign-magnitude), resolution and unit.  A
message layout is a tuple of DF numbers in transmission order
(:data:`SPECS`); :func:`layout` compiles it once into the numpy width/kind/
scale arrays that the ``bits`` kernel (``unpack_fields`` / ``pack_fields``)
and the vectorised scaling consume.  Reserved bits (DF001, whose width
varies by message) are written in a spec as a negative number ``-n`` for
``n`` reserved bits.

Resolutions are in the unit the standard states (``"sc"`` semicircles,
``"km"`` for GLONASS, ``"ns"`` for BeiDou TGD...); :attr:`Layout.si` folds in
the factor to SI (radians, metres, seconds).

Every layout fact was checked against RTCM 10403.3 Table 3.4-1 (data
fields) and §3.5.6-§3.5.8, §3.5.16 (message contents), and cross-checked
against independent implementations (pyrtcm's tables; rtcm-rs for the 1041
spare bits and GLONASS resolutions) and the real captures in the tests.

References
----------
RTCM 10403.3, Differential GNSS Services - Version 3, §3.4 (DF001-DF545),
§3.5.3 (1005/1006), §3.5.4 (1007/1008/1033), §3.5.5 (1013, 1029),
§3.5.6-§3.5.8 (1019, 1020, 1041-1046), §3.5.14 (1230).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from vngeonet import kernels
from vngeonet.errors import FormatError

U = 0  # unsigned (uint)
S = 1  # two's complement (int)
SM = 2  # sign-magnitude (intS)

# Powers of two used as resolutions (exact in binary floating point).
P2 = {n: 2.0**n for n in range(-66, 5)}


@dataclass(frozen=True, slots=True)
class DataField:
    """One RTCM data field.

    Attributes
    ----------
    df : int
        DF number (1 for reserved bits).
    width : int
        Bits.
    kind : int
        0 unsigned, 1 two's complement, 2 sign-magnitude.
    scale : float
        Resolution: value = integer * scale, in ``unit``.
    unit : str
        Unit of ``integer * scale`` as the standard states it.
    name : str
        Short description.
    """

    df: int
    width: int
    kind: int
    scale: float
    unit: str
    name: str


# Factor from a field's own unit to SI.
SI_FACTOR = {
    "sc": math.pi,  # semicircles -> rad
    "sc/s": math.pi,  # semicircles/s -> rad/s
    "km": 1e3,
    "km/s": 1e3,
    "km/s2": 1e3,
    "ns": 1e-9,
    "min": 60.0,
}

# (DF, width, kind, resolution, unit, name).  RTCM 10403.3 Table 3.4-1.
_TABLE = (
    (2, 12, U, 1, "", "message number"),
    (3, 12, U, 1, "", "reference station id"),
    (9, 6, U, 1, "", "GPS satellite id"),
    (21, 6, U, 1, "", "ITRF realization year"),
    (22, 1, U, 1, "", "GPS indicator"),
    (23, 1, U, 1, "", "GLONASS indicator"),
    (24, 1, U, 1, "", "Galileo indicator"),
    (25, 38, S, 1e-4, "m", "ARP ECEF-X"),
    (26, 38, S, 1e-4, "m", "ARP ECEF-Y"),
    (27, 38, S, 1e-4, "m", "ARP ECEF-Z"),
    (28, 16, U, 1e-4, "m", "antenna height"),
    (29, 8, U, 1, "", "descriptor counter"),
    (31, 8, U, 1, "", "antenna setup id"),
    (32, 8, U, 1, "", "serial number counter"),
    (38, 6, U, 1, "", "GLONASS satellite slot number"),
    (40, 5, U, 1, "", "GLONASS frequency channel number + 7"),
    (51, 16, U, 1, "d", "modified Julian day"),
    (52, 17, U, 1, "s", "seconds of day (UTC)"),
    (53, 5, U, 1, "", "number of message announcements"),
    (54, 8, U, 1, "s", "leap seconds GPS-UTC"),
    (55, 12, U, 1, "", "message id"),
    (56, 1, U, 1, "", "message sync flag"),
    (57, 16, U, 0.1, "s", "message transmission interval"),
    (71, 8, U, 1, "", "GPS IODE"),
    (76, 10, U, 1, "", "GPS week number (mod 1024)"),
    (77, 4, U, 1, "", "GPS URA index"),
    (78, 2, U, 1, "", "GPS code on L2"),
    (79, 14, S, P2[-43], "sc/s", "GPS IDOT"),
    (81, 16, U, 16, "s", "GPS toc"),
    (82, 8, S, P2[-55], "s/s2", "GPS af2"),
    (83, 16, S, P2[-43], "s/s", "GPS af1"),
    (84, 22, S, P2[-31], "s", "GPS af0"),
    (85, 10, U, 1, "", "GPS IODC"),
    (86, 16, S, P2[-5], "m", "GPS Crs"),
    (87, 16, S, P2[-43], "sc/s", "GPS delta n"),
    (88, 32, S, P2[-31], "sc", "GPS M0"),
    (89, 16, S, P2[-29], "rad", "GPS Cuc"),
    (90, 32, U, P2[-33], "", "GPS eccentricity"),
    (91, 16, S, P2[-29], "rad", "GPS Cus"),
    (92, 32, U, P2[-19], "m^0.5", "GPS sqrt(A)"),
    (93, 16, U, 16, "s", "GPS toe"),
    (94, 16, S, P2[-29], "rad", "GPS Cic"),
    (95, 32, S, P2[-31], "sc", "GPS OMEGA0"),
    (96, 16, S, P2[-29], "rad", "GPS Cis"),
    (97, 32, S, P2[-31], "sc", "GPS i0"),
    (98, 16, S, P2[-5], "m", "GPS Crc"),
    (99, 32, S, P2[-31], "sc", "GPS omega"),
    (100, 24, S, P2[-43], "sc/s", "GPS OMEGADOT"),
    (101, 8, S, P2[-31], "s", "GPS TGD"),
    (102, 6, U, 1, "", "GPS SV health"),
    (103, 1, U, 1, "", "GPS L2 P data flag"),
    (104, 1, U, 1, "", "GLONASS almanac health Cn"),
    (105, 1, U, 1, "", "GLONASS almanac health availability"),
    (106, 2, U, 1, "", "GLONASS P1"),
    (107, 12, U, 1, "", "GLONASS tk (h:5, min:6, 30 s:1)"),
    (108, 1, U, 1, "", "GLONASS MSB of Bn"),
    (109, 1, U, 1, "", "GLONASS P2"),
    (110, 7, U, 15, "min", "GLONASS tb"),
    (111, 24, SM, P2[-20], "km/s", "GLONASS xn'(tb)"),
    (112, 27, SM, P2[-11], "km", "GLONASS xn(tb)"),
    (113, 5, SM, P2[-30], "km/s2", "GLONASS xn''(tb)"),
    (114, 24, SM, P2[-20], "km/s", "GLONASS yn'(tb)"),
    (115, 27, SM, P2[-11], "km", "GLONASS yn(tb)"),
    (116, 5, SM, P2[-30], "km/s2", "GLONASS yn''(tb)"),
    (117, 24, SM, P2[-20], "km/s", "GLONASS zn'(tb)"),
    (118, 27, SM, P2[-11], "km", "GLONASS zn(tb)"),
    (119, 5, SM, P2[-30], "km/s2", "GLONASS zn''(tb)"),
    (120, 1, U, 1, "", "GLONASS P3"),
    (121, 11, SM, P2[-40], "", "GLONASS gamma_n(tb)"),
    (122, 2, U, 1, "", "GLONASS-M P"),
    (123, 1, U, 1, "", "GLONASS-M ln (third string)"),
    (124, 22, SM, P2[-30], "s", "GLONASS tau_n(tb)"),
    (125, 5, SM, P2[-30], "s", "GLONASS-M delta tau_n"),
    (126, 5, U, 1, "d", "GLONASS En"),
    (127, 1, U, 1, "", "GLONASS-M P4"),
    (128, 4, U, 1, "", "GLONASS-M FT"),
    (129, 11, U, 1, "d", "GLONASS-M NT"),
    (130, 2, U, 1, "", "GLONASS-M M"),
    (131, 1, U, 1, "", "GLONASS additional data availability"),
    (132, 11, U, 1, "d", "GLONASS NA"),
    (133, 32, SM, P2[-31], "s", "GLONASS tau_c"),
    (134, 5, U, 1, "", "GLONASS-M N4"),
    (135, 22, SM, P2[-30], "s", "GLONASS-M tau_GPS"),
    (136, 1, U, 1, "", "GLONASS-M ln (fifth string)"),
    (137, 1, U, 1, "", "GPS fit interval flag"),
    (138, 7, U, 1, "", "number of characters"),
    (139, 8, U, 1, "", "number of UTF-8 code units"),
    (141, 1, U, 1, "", "reference-station indicator"),
    (142, 1, U, 1, "", "single receiver oscillator indicator"),
    (227, 8, U, 1, "", "receiver type descriptor counter"),
    (229, 8, U, 1, "", "receiver firmware version counter"),
    (231, 8, U, 1, "", "receiver serial number counter"),
    (252, 6, U, 1, "", "Galileo satellite id"),
    (286, 8, U, 1, "", "Galileo SISA index (E1,E5b)"),
    (287, 2, U, 1, "", "Galileo E1-B signal health"),
    (288, 1, U, 1, "", "Galileo E1-B data validity"),
    (289, 12, U, 1, "", "Galileo week number"),
    (290, 10, U, 1, "", "Galileo IODnav"),
    (291, 8, U, 1, "", "Galileo SISA index (E1,E5a)"),
    (292, 14, S, P2[-43], "sc/s", "Galileo IDOT"),
    (293, 14, U, 60, "s", "Galileo toc"),
    (294, 6, S, P2[-59], "s/s2", "Galileo af2"),
    (295, 21, S, P2[-46], "s/s", "Galileo af1"),
    (296, 31, S, P2[-34], "s", "Galileo af0"),
    (297, 16, S, P2[-5], "m", "Galileo Crs"),
    (298, 16, S, P2[-43], "sc/s", "Galileo delta n"),
    (299, 32, S, P2[-31], "sc", "Galileo M0"),
    (300, 16, S, P2[-29], "rad", "Galileo Cuc"),
    (301, 32, U, P2[-33], "", "Galileo eccentricity"),
    (302, 16, S, P2[-29], "rad", "Galileo Cus"),
    (303, 32, U, P2[-19], "m^0.5", "Galileo sqrt(A)"),
    (304, 14, U, 60, "s", "Galileo toe"),
    (305, 16, S, P2[-29], "rad", "Galileo Cic"),
    (306, 32, S, P2[-31], "sc", "Galileo OMEGA0"),
    (307, 16, S, P2[-29], "rad", "Galileo Cis"),
    (308, 32, S, P2[-31], "sc", "Galileo i0"),
    (309, 16, S, P2[-5], "m", "Galileo Crc"),
    (310, 32, S, P2[-31], "sc", "Galileo omega"),
    (311, 24, S, P2[-43], "sc/s", "Galileo OMEGADOT"),
    (312, 10, S, P2[-32], "s", "Galileo BGD E1/E5a"),
    (313, 10, S, P2[-32], "s", "Galileo BGD E5b/E1"),
    (314, 2, U, 1, "", "Galileo E5a signal health"),
    (315, 1, U, 1, "", "Galileo E5a data validity"),
    (316, 2, U, 1, "", "Galileo E5b signal health"),
    (317, 1, U, 1, "", "Galileo E5b data validity"),
    (364, 2, U, 1, "", "quarter cycle indicator"),
    (421, 1, U, 1, "", "GLONASS code-phase bias indicator"),
    (422, 4, U, 1, "", "GLONASS FDMA signals mask"),
    (423, 16, S, 0.02, "m", "GLONASS L1 C/A code-phase bias"),
    (424, 16, S, 0.02, "m", "GLONASS L1 P code-phase bias"),
    (425, 16, S, 0.02, "m", "GLONASS L2 C/A code-phase bias"),
    (426, 16, S, 0.02, "m", "GLONASS L2 P code-phase bias"),
    (429, 4, U, 1, "", "QZSS satellite id"),
    (430, 16, U, 16, "s", "QZSS toc"),
    (431, 8, S, P2[-55], "s/s2", "QZSS af2"),
    (432, 16, S, P2[-43], "s/s", "QZSS af1"),
    (433, 22, S, P2[-31], "s", "QZSS af0"),
    (434, 8, U, 1, "", "QZSS IODE"),
    (435, 16, S, P2[-5], "m", "QZSS Crs"),
    (436, 16, S, P2[-43], "sc/s", "QZSS delta n"),
    (437, 32, S, P2[-31], "sc", "QZSS M0"),
    (438, 16, S, P2[-29], "rad", "QZSS Cuc"),
    (439, 32, U, P2[-33], "", "QZSS eccentricity"),
    (440, 16, S, P2[-29], "rad", "QZSS Cus"),
    (441, 32, U, P2[-19], "m^0.5", "QZSS sqrt(A)"),
    (442, 16, U, 16, "s", "QZSS toe"),
    (443, 16, S, P2[-29], "rad", "QZSS Cic"),
    (444, 32, S, P2[-31], "sc", "QZSS OMEGA0"),
    (445, 16, S, P2[-29], "rad", "QZSS Cis"),
    (446, 32, S, P2[-31], "sc", "QZSS i0"),
    (447, 16, S, P2[-5], "m", "QZSS Crc"),
    (448, 32, S, P2[-31], "sc", "QZSS omega"),
    (449, 24, S, P2[-43], "sc/s", "QZSS OMEGADOT"),
    (450, 14, S, P2[-43], "sc/s", "QZSS IDOT"),
    (451, 2, U, 1, "", "QZSS codes on L2"),
    (452, 10, U, 1, "", "QZSS week number (mod 1024)"),
    (453, 4, U, 1, "", "QZSS URA index"),
    (454, 6, U, 1, "", "QZSS SV health"),
    (455, 8, S, P2[-31], "s", "QZSS TGD"),
    (456, 10, U, 1, "", "QZSS IODC"),
    (457, 1, U, 1, "", "QZSS fit interval flag"),
    (488, 6, U, 1, "", "BDS satellite id"),
    (489, 13, U, 1, "", "BDS week number"),
    (490, 4, U, 1, "", "BDS URAI"),
    (491, 14, S, P2[-43], "sc/s", "BDS IDOT"),
    (492, 5, U, 1, "", "BDS AODE"),
    (493, 17, U, 8, "s", "BDS toc"),
    (494, 11, S, P2[-66], "s/s2", "BDS a2"),
    (495, 22, S, P2[-50], "s/s", "BDS a1"),
    (496, 24, S, P2[-33], "s", "BDS a0"),
    (497, 5, U, 1, "", "BDS AODC"),
    (498, 18, S, P2[-6], "m", "BDS Crs"),
    (499, 16, S, P2[-43], "sc/s", "BDS delta n"),
    (500, 32, S, P2[-31], "sc", "BDS M0"),
    (501, 18, S, P2[-31], "rad", "BDS Cuc"),
    (502, 32, U, P2[-33], "", "BDS eccentricity"),
    (503, 18, S, P2[-31], "rad", "BDS Cus"),
    (504, 32, U, P2[-19], "m^0.5", "BDS sqrt(A)"),
    (505, 17, U, 8, "s", "BDS toe"),
    (506, 18, S, P2[-31], "rad", "BDS Cic"),
    (507, 32, S, P2[-31], "sc", "BDS OMEGA0"),
    (508, 18, S, P2[-31], "rad", "BDS Cis"),
    (509, 32, S, P2[-31], "sc", "BDS i0"),
    (510, 18, S, P2[-6], "m", "BDS Crc"),
    (511, 32, S, P2[-31], "sc", "BDS omega"),
    (512, 24, S, P2[-43], "sc/s", "BDS OMEGADOT"),
    (513, 10, S, 0.1, "ns", "BDS TGD1"),
    (514, 10, S, 0.1, "ns", "BDS TGD2"),
    (515, 1, U, 1, "", "BDS SV health (SatH1)"),
    (516, 6, U, 1, "", "NavIC satellite id"),
    (517, 10, U, 1, "", "NavIC week number (mod 1024)"),
    (518, 22, S, P2[-31], "s", "NavIC af0"),
    (519, 16, S, P2[-43], "s/s", "NavIC af1"),
    (520, 8, S, P2[-55], "s/s2", "NavIC af2"),
    (521, 4, U, 1, "", "NavIC URA index"),
    (522, 16, U, 16, "s", "NavIC toc"),
    (523, 8, S, P2[-31], "s", "NavIC TGD"),
    (524, 22, S, P2[-41], "sc/s", "NavIC delta n"),
    (525, 8, U, 1, "", "NavIC IODEC"),
    (526, 10, U, 1, "", "NavIC reserved after IODEC"),
    (527, 1, U, 1, "", "NavIC L5 health flag"),
    (528, 1, U, 1, "", "NavIC S health flag"),
    (529, 15, S, P2[-28], "rad", "NavIC Cuc"),
    (530, 15, S, P2[-28], "rad", "NavIC Cus"),
    (531, 15, S, P2[-28], "rad", "NavIC Cic"),
    (532, 15, S, P2[-28], "rad", "NavIC Cis"),
    (533, 15, S, P2[-4], "m", "NavIC Crc"),
    (534, 15, S, P2[-4], "m", "NavIC Crs"),
    (535, 14, S, P2[-43], "sc/s", "NavIC IDOT"),
    (536, 32, S, P2[-31], "sc", "NavIC M0"),
    (537, 16, U, 16, "s", "NavIC toe"),
    (538, 32, U, P2[-33], "", "NavIC eccentricity"),
    (539, 32, U, P2[-19], "m^0.5", "NavIC sqrt(A)"),
    (540, 32, S, P2[-31], "sc", "NavIC OMEGA0"),
    (541, 32, S, P2[-31], "sc", "NavIC omega"),
    (542, 22, S, P2[-41], "sc/s", "NavIC OMEGADOT"),
    (543, 32, S, P2[-31], "sc", "NavIC i0"),
    (544, 2, U, 1, "", "NavIC spare after IDOT"),
    (545, 2, U, 1, "", "NavIC spare after i0"),
)

FIELDS: dict[int, DataField] = {row[0]: DataField(*row) for row in _TABLE}

# Character fields (one 8-bit code unit each): DF030/DF033 antenna
# descriptor/serial, DF228/DF230/DF232 receiver type/firmware/serial
# (ISO 8859-1), DF140 text (UTF-8).
CHAR_FIELDS = (30, 33, 140, 228, 230, 232)


def field(df: int) -> DataField:
    """The :class:`DataField` for DF number ``df`` (``-n``: n reserved bits, DF001).

    Raises
    ------
    KeyError
        ``df`` is not in the table.
    """
    if df < 0:
        return DataField(1, -df, U, 1.0, "", "reserved")
    return FIELDS[df]


# Fixed-length message layouts after DF002 (which every payload starts with).
_ARP = (3, 21, 22, 23, 24, 141, 25, 142, -1, 26, 364, 27)
SPECS: dict[int, tuple[int, ...]] = {
    1005: _ARP,
    1006: _ARP + (28,),
    1019: (9, 76, 77, 78, 79, 71, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93,
           94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 137),
    1020: (38, 40, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116,
           117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131,
           132, 133, 134, 135, 136, -7),
    1041: tuple(range(516, 546)),
    1042: tuple(range(488, 516)),
    1044: tuple(range(429, 458)),
    1045: (252, 289, 290, 291) + tuple(range(292, 313)) + (314, 315, -7),
    1046: (252, 289, 290, 286) + tuple(range(292, 314)) + (316, 317, 287, 288, -2),
}

# Fixed heads and repeated groups of the variable-length messages.
HEADS: dict[str, tuple[int, ...]] = {
    "1013": (3, 51, 52, 53, 54),
    "1013.announcement": (55, 56, 57),
    "1029": (3, 51, 52, 138, 139),
    "1230": (3, 421, -3, 422),
}


class Layout:
    """A compiled sequence of data fields.

    Attributes
    ----------
    dfs : tuple of int
        The spec (DF numbers, ``-n`` for reserved bits).
    widths : ndarray of int32, shape (n,)
    kinds : ndarray of uint8, shape (n,)
    scales : ndarray of float64, shape (n,)
        Resolution in each field's own unit.
    si : ndarray of float64, shape (n,)
        Resolution in SI units (semicircles -> rad, km -> m, ns -> s, min -> s).
    nbits : int
        Total width.
    index : dict[int, int]
        Position of each DF number in the field vector.
    """

    __slots__ = ("dfs", "widths", "kinds", "scales", "si", "nbits", "index", "_w12", "_k12")

    def __init__(self, dfs: tuple[int, ...]):
        rows = [field(d) for d in dfs]
        self.dfs = tuple(dfs)
        self.widths = np.array([r.width for r in rows], dtype=np.int32)
        self.kinds = np.array([r.kind for r in rows], dtype=np.uint8)
        self.scales = np.array([r.scale for r in rows], dtype=np.float64)
        self.si = self.scales * np.array([SI_FACTOR.get(r.unit, 1.0) for r in rows])
        self.nbits = int(self.widths.sum())
        self.index = {d: i for i, d in enumerate(dfs) if d > 0}
        # With DF002 in front, for whole-payload encoding.
        self._w12 = np.concatenate(([12], self.widths)).astype(np.int32)
        self._k12 = np.concatenate(([U], self.kinds)).astype(np.uint8)

    def unpack(self, payload: bytes, msg_type: int, pos: int = 12, source: str = "") -> np.ndarray:
        """Integer field vector (int64, shape (n,)) read from bit ``pos`` of ``payload``.

        One call of the ``bits`` kernel's ``unpack_fields``.

        Raises
        ------
        FormatError
            The payload is too short for the layout; the message names ``msg_type``.
        """
        try:
            vals, _ = _BITS.unpack_fields(payload, pos, self.widths, self.kinds)
        except IndexError as err:
            raise FormatError(
                f"RTCM {msg_type}: payload of {len(payload)} bytes is too short "
                f"({pos + self.nbits} bits needed)",
                source=source or None,
            ) from err
        return vals

    def pack(self, msg_type: int, values) -> bytes:
        """Payload bytes: DF002 = ``msg_type`` then ``values`` (integers), zero-padded to bytes.

        Raises
        ------
        OverflowError
            A value does not fit its field.
        """
        vals = np.empty(len(self.widths) + 1, dtype=np.int64)
        vals[0] = msg_type
        vals[1:] = values
        return _BITS.pack_fields(vals, self._w12, self._k12)


_BITS = kernels.get("bits")


@lru_cache(maxsize=None)
def layout(spec: tuple[int, ...] | int | str) -> Layout:
    """Compiled :class:`Layout` of a message number (``SPECS``), a ``HEADS`` key or a DF tuple.

    Examples
    --------
    >>> lay = layout(1019)
    >>> lay.nbits + 12, lay.widths[:3].tolist()
    (488, [6, 10, 4])
    >>> layout((25, -1)).kinds.tolist()
    [1, 0]
    """
    if isinstance(spec, int):
        return Layout(SPECS[spec])
    if isinstance(spec, str):
        return Layout(HEADS[spec])
    return Layout(tuple(spec))


def payload_bits(msg_type: int) -> int:
    """Bits of a fixed-length message ``msg_type`` including DF002 (before byte padding)."""
    return 12 + layout(msg_type).nbits
