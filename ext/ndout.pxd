# cython: language_level=3
"""Output-array allocation shared by the kernels that return numpy arrays (``msm``, ``legacy``).

Declared ``cdef inline`` here so each kernel compiles its own copy
(``cimport ndout``); there is no runtime module behind this file.  A module
that cimports this must call ``cnp.import_array()`` itself.
"""

cimport numpy as cnp
from cpython.ref cimport Py_INCREF

cdef extern from "numpy/arrayobject.h":
    # Steals a reference to descr.
    object PyArray_Empty(int nd, cnp.npy_intp* dims, cnp.dtype descr, int fortran)


cdef inline cnp.ndarray empty_array(int nd, cnp.npy_intp* dims, int typenum, int zero):
    """New C-order array of ``typenum``; zero-filled when ``zero``."""
    if zero:
        return cnp.PyArray_ZEROS(nd, dims, typenum, 0)
    return cnp.PyArray_EMPTY(nd, dims, typenum, 0)


cdef inline object empty_like_dtype(cnp.ndarray like, int nd, cnp.npy_intp* dims):
    """New uninitialised C-order array with the dtype of ``like`` (e.g. a string name table)."""
    cdef cnp.dtype dt = like.dtype
    Py_INCREF(dt)  # PyArray_Empty steals this reference
    return PyArray_Empty(nd, dims, dt, 0)
