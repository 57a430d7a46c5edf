"""Fixed-layout field plans and slotted-object construction.

Pure-Python twin of ``ext/ephfields.pyx``; the two have the same classes,
signatures, dtypes and exceptions.  Made for the ephemeris messages (RTCM
10403.3 §3.5.6-§3.5.8), whose decode is otherwise dominated by per-call
overheads: numpy gathers on 30-element arrays, numpy-scalar conversions and
the generated ``__init__`` of a 33-field frozen dataclass.

* :class:`FieldPlan` reads every field of a fixed layout in one call (MSB
  first, RTCM 10403.3 §3.3 bit order; kinds as in the ``bits`` kernel: 0
  unsigned, 1 two's complement, 2 sign-magnitude) and returns the integer
  vector as a read-only int64 array, the picked fields as a list of ints and
  the gathered fields times their scales as a tuple of floats.
* :class:`SlotMaker` builds an instance of a slotted class (e.g. a frozen
  slotted dataclass without ``__post_init__``) by setting each slot through
  its member descriptor, skipping ``__init__``.
"""

from __future__ import annotations

import numpy as np

_MEMBER_DESCRIPTOR = type(type("_Probe", (), {"__slots__": ("x",)}).x)
_NAN = float("nan")


class FieldPlan:
    """Read a fixed sequence of bit fields and scale a gathered subset.

    Parameters
    ----------
    widths : sequence of int, length n
        Width of each field in bits (0..64).
    kinds : sequence of int, length n
        Field kinds (0 unsigned, 1 two's complement, 2 sign-magnitude).
    gather : sequence of int, length m
        Field index of each real (0..n-1), or -1 for a real that is NaN.
    scales : sequence of float, length m
        Factor applied to each gathered integer.
    picks : sequence of int, length q
        Field indices (0..n-1) returned as Python ints.

    Attributes
    ----------
    n_fields, n_reals, n_ints, nbits : int
        n, m, q and the total width in bits.

    Raises
    ------
    ValueError
        Lengths differ, a width is outside 0..64, a kind outside 0..2, a
        gather index outside -1..n-1 or a pick outside 0..n-1.
    """

    __slots__ = ("_g", "_k", "_p", "_s", "_w", "n_fields", "n_ints", "n_reals", "nbits")

    def __init__(self, widths, kinds, gather, scales, picks):
        w = [int(x) for x in widths]
        k = [int(x) for x in kinds]
        g = [int(x) for x in gather]
        s = [float(x) for x in scales]
        q = [int(x) for x in picks]
        if len(k) != len(w) or len(s) != len(g):
            raise ValueError("widths/kinds or gather/scales differ in length")
        for x in w:
            if x < 0 or x > 64:
                raise ValueError(f"bit field width {x} outside 0..64")
        for x in k:
            if x < 0 or x > 2:
                raise ValueError(f"field kind {x} outside 0..2")
        for x in g:
            if x < -1 or x >= len(w):
                raise ValueError(f"gather index {x} outside -1..{len(w) - 1}")
        for x in q:
            if x < 0 or x >= len(w):
                raise ValueError(f"pick index {x} outside 0..{len(w) - 1}")
        self._w, self._k, self._g, self._s, self._p = w, k, g, s, q
        self.n_fields = len(w)
        self.n_reals = len(g)
        self.n_ints = len(q)
        self.nbits = sum(w)

    def unpack(self, buf, pos: int):
        """Read the fields from bit ``pos`` of ``buf``.

        Returns
        -------
        values : ndarray of int64, shape (n,), read-only
            The fields (an unsigned 64-bit field wraps to int64).
        ints : list of int, length q
            ``values[picks[j]]`` as Python ints.
        reals : tuple of float, length m
            ``float(values[gather[j]]) * scales[j]``, NaN where ``gather[j]`` is -1.

        Raises
        ------
        IndexError
            The fields run past the end of ``buf`` (or ``pos`` < 0).
        """
        data = bytes(buf)
        nbits = len(data) * 8
        if pos < 0 or pos + self.nbits > nbits:
            raise IndexError(f"bit fields {pos}+{self.nbits} beyond {nbits} bits")
        word = int.from_bytes(data, "big")
        out = []
        p = pos
        for n, kind in zip(self._w, self._k):
            if n == 0:
                out.append(0)
                continue
            v = (word >> (nbits - p - n)) & ((1 << n) - 1)
            p += n
            if kind == 1 and v >> (n - 1):
                v -= 1 << n
            elif kind == 2 and v >> (n - 1):
                v = -(v & ((1 << (n - 1)) - 1))
            elif v >= 1 << 63:
                v -= 1 << 64
            out.append(v)
        values = np.array(out, dtype=np.int64)
        values.flags.writeable = False
        reals = tuple(_NAN if g < 0 else float(out[g]) * s for g, s in zip(self._g, self._s))
        return values, [out[i] for i in self._p], reals


class SlotMaker:
    """Build instances of a slotted class by setting every slot directly.

    Parameters
    ----------
    cls : type
        A class whose attributes ``names`` are slots (member descriptors) and
        which does not define ``__new__``.
    names : sequence of str
        The slots :meth:`make` sets, in order.

    Raises
    ------
    TypeError
        ``cls`` is not a class, defines ``__new__``, or a name is not a slot.

    Notes
    -----
    Nothing else runs: no ``__init__``, no ``__post_init__``, no defaults;
    the caller passes a value for every slot it wants set.
    """

    __slots__ = ("_setters", "cls", "names")

    def __init__(self, cls, names):
        if not isinstance(cls, type):
            raise TypeError(f"{cls!r} is not a class")
        if cls.__new__ is not object.__new__:
            raise TypeError(f"{cls.__name__} has its own __new__")
        self.cls = cls
        self.names = tuple(names)
        setters = []
        for name in self.names:
            d = getattr(cls, name, None)
            if type(d) is not _MEMBER_DESCRIPTOR:
                raise TypeError(f"{cls.__name__}.{name} is not a slot")
            setters.append(d.__set__)
        self._setters = tuple(setters)

    def make(self, values: tuple):
        """A new instance whose slots take ``values`` (a tuple) in the order of ``names``.

        Raises
        ------
        TypeError
            ``values`` is not a tuple.
        ValueError
            ``len(values) != len(names)``.
        """
        if type(values) is not tuple:
            raise TypeError(f"values must be a tuple, not {type(values).__name__}")
        if len(values) != len(self._setters):
            raise ValueError(f"{self.cls.__name__}: {len(values)} values for "
                             f"{len(self._setters)} slots")
        obj = object.__new__(self.cls)
        for setter, value in zip(self._setters, values):
            setter(obj, value)
        return obj
