# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Fixed-layout field plans and slotted-object construction (compiled twin of
vngeonet/kernels/ephfields.py, which is the specification).

Made for the ephemeris messages (RTCM 10403.3 §3.5.6-§3.5.8): one call reads
every field of a message, MSB first (RTCM 10403.3 §3.3 bit order), and
scales the ones the caller gathers; a second builds the frozen slotted
dataclass without its generated ``__init__``.
"""

import numpy as np

cimport numpy as cnp
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_FromLongLong
from cpython.float cimport PyFloat_FromDouble
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM, PyTuple_GET_SIZE, PyTuple_GET_ITEM
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport malloc, free
from libc.math cimport NAN

from bitread cimport field_value, read_bits

cnp.import_array()

cdef extern from "Python.h":
    object PyBaseObject_Type_new "PyBaseObject_Type.tp_new" (PyTypeObject*, object, PyObject*)

_MEMBER_DESCRIPTOR = type(type("_Probe", (), {"__slots__": ("x",)}).x)


cdef class FieldPlan:
    """Read a fixed sequence of bit fields and scale a gathered subset (see the twin)."""

    cdef int32_t* _w
    cdef int* _k
    cdef Py_ssize_t* _g
    cdef double* _s
    cdef Py_ssize_t* _p
    cdef readonly Py_ssize_t n_fields
    cdef readonly Py_ssize_t n_reals
    cdef readonly Py_ssize_t n_ints
    cdef readonly Py_ssize_t nbits

    def __cinit__(self):
        self._w = NULL
        self._k = NULL
        self._g = NULL
        self._s = NULL
        self._p = NULL

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
        self.n_fields = len(w)
        self.n_reals = len(g)
        self.n_ints = len(q)
        self.nbits = sum(w)
        self._w = <int32_t*>malloc((self.n_fields + 1) * sizeof(int32_t))
        self._k = <int*>malloc((self.n_fields + 1) * sizeof(int))
        self._g = <Py_ssize_t*>malloc((self.n_reals + 1) * sizeof(Py_ssize_t))
        self._s = <double*>malloc((self.n_reals + 1) * sizeof(double))
        self._p = <Py_ssize_t*>malloc((self.n_ints + 1) * sizeof(Py_ssize_t))
        if (self._w == NULL or self._k == NULL or self._g == NULL or self._s == NULL
                or self._p == NULL):
            raise MemoryError()
        cdef Py_ssize_t i
        for i in range(self.n_fields):
            self._w[i] = w[i]
            self._k[i] = k[i]
        for i in range(self.n_reals):
            self._g[i] = g[i]
            self._s[i] = s[i]
        for i in range(self.n_ints):
            self._p[i] = q[i]

    def __dealloc__(self):
        free(self._w)
        free(self._k)
        free(self._g)
        free(self._s)
        free(self._p)

    def unpack(self, buf, Py_ssize_t pos):
        """``(values, ints, reals)`` read from bit ``pos`` of ``buf`` (see the twin)."""
        cdef bytes b = buf if type(buf) is bytes else bytes(memoryview(buf).cast("B"))
        cdef Py_ssize_t nbytes = PyBytes_GET_SIZE(b), i, p = pos, gi
        cdef const unsigned char* d = <const unsigned char*>PyBytes_AS_STRING(b)
        cdef cnp.npy_intp dims[1]
        cdef int64_t* o
        cdef int wi
        cdef double x
        if pos < 0 or pos + self.nbits > nbytes * 8:
            raise IndexError(f"bit fields {pos}+{self.nbits} beyond {nbytes * 8} bits")
        dims[0] = self.n_fields
        vals = cnp.PyArray_EMPTY(1, dims, cnp.NPY_INT64, 0)
        o = <int64_t*>cnp.PyArray_DATA(vals)
        for i in range(self.n_fields):
            wi = self._w[i]
            if wi == 0:
                o[i] = 0
            else:
                o[i] = field_value(read_bits(d, p, wi), wi, self._k[i])
                p += wi
        cnp.PyArray_CLEARFLAGS(vals, cnp.NPY_ARRAY_WRITEABLE)
        ints = PyList_New(self.n_ints)
        for i in range(self.n_ints):
            item = PyLong_FromLongLong(o[self._p[i]])
            Py_INCREF(item)
            PyList_SET_ITEM(ints, i, item)
        reals = PyTuple_New(self.n_reals)
        for i in range(self.n_reals):
            gi = self._g[i]
            x = NAN if gi < 0 else <double>o[gi] * self._s[i]
            item = PyFloat_FromDouble(x)
            Py_INCREF(item)
            PyTuple_SET_ITEM(reals, i, item)
        return vals, ints, reals


cdef class SlotMaker:
    """Build instances of a slotted class by setting every slot directly (see the twin)."""

    cdef readonly object cls
    cdef readonly tuple names
    cdef tuple _descrs
    cdef Py_ssize_t _n

    def __init__(self, cls, names):
        if not isinstance(cls, type):
            raise TypeError(f"{cls!r} is not a class")
        if cls.__new__ is not object.__new__:
            raise TypeError(f"{cls.__name__} has its own __new__")
        self.cls = cls
        self.names = tuple(names)
        descrs = []
        for name in self.names:
            d = getattr(cls, name, None)
            if type(d) is not _MEMBER_DESCRIPTOR:
                raise TypeError(f"{cls.__name__}.{name} is not a slot")
            descrs.append(d)
        self._descrs = tuple(descrs)
        self._n = len(descrs)

    def make(self, tuple values not None):
        """A new instance whose slots take ``values`` in the order of ``names`` (see the twin)."""
        cdef Py_ssize_t i
        cdef object d
        if PyTuple_GET_SIZE(values) != self._n:
            raise ValueError(f"{self.cls.__name__}: {PyTuple_GET_SIZE(values)} values for "
                             f"{self._n} slots")
        obj = PyBaseObject_Type_new(<PyTypeObject*>self.cls, (), NULL)
        for i in range(self._n):
            d = <object>PyTuple_GET_ITEM(self._descrs, i)
            Py_TYPE(d).tp_descr_set(d, obj, <object>PyTuple_GET_ITEM(values, i))
        return obj
