# cython: language_level=3
"""Line splitting shared by the RINEX text kernels (``rinex_obs``, ``crx``).

Declared ``cdef inline`` here so each kernel compiles its own copy; there is no
runtime module behind this file.
"""


cdef inline void split_lines(const unsigned char* b, long long pos, long long end, long long N,
                             long long* ls, long long* ll) noexcept nogil:
    """Start and length (without the line end and one CR) of the N lines in b[pos:end].

    ``ls`` and ``ll`` hold N + 1 entries; entry N is the end of the last line
    (clamped to ``end``) with length 0.
    """
    cdef long long i = 0, p = pos
    while i < N:
        ls[i] = p
        while p < end and b[p] != 10:
            p += 1
        ll[i] = p - ls[i]
        if ll[i] > 0 and b[p - 1] == 13:
            ll[i] -= 1
        p += 1
        i += 1
    ls[N] = p if p < end else end
    ll[N] = 0
