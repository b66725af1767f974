# cython: language_level=3
"""Hashing kernels of the aggregation: dense IMSI ids and partitioning by IMSI hash.

``dense_ids`` maps IMSI codes to dense ids 0..U-1 (open-addressing hash table, ids
in order of first appearance); ``assign_partitions`` gives each event the
partition of a seeded hash of its IMSI and ``scatter_rows`` appends the events to growing per-partition columns
(order kept), for ``partition.py``.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
cimport cpython
from libc.string cimport memcpy

cnp.import_array()


cdef inline uint64_t mix(uint64_t x) noexcept nogil:
    """A 64-bit finaliser (murmur3 fmix64): every input bit moves every output bit."""
    x ^= x >> 33
    x *= 0xff51afd7ed558ccdULL
    x ^= x >> 33
    x *= 0xc4ceb9fe1a85ec53ULL
    x ^= x >> 33
    return x


def dense_ids(const int64_t[::1] imsi, int32_t[::1] ids):
    """OUT ids[i]: dense id of imsi[i] (0.., in order of first appearance).

    Returns the int64 array of distinct IMSI codes indexed by id.  IMSI codes must
    be > 0 (the digits code of a non-empty IMSI).
    """
    cdef Py_ssize_t n = imsi.shape[0], i
    cdef uint64_t cap = 1024, mask, h, k
    cdef int64_t* keys = <int64_t*>calloc(cap, sizeof(int64_t))
    cdef int32_t* vals = <int32_t*>malloc(cap * sizeof(int32_t))
    cdef int64_t* uniq = <int64_t*>malloc(cap // 2 * sizeof(int64_t))
    cdef int64_t* nkeys
    cdef int32_t* nvals
    cdef int64_t key
    cdef int32_t nu = 0
    cdef bint failed = False
    if keys == NULL or vals == NULL or uniq == NULL:
        free(keys); free(vals); free(uniq)
        raise MemoryError("dense_ids: cannot allocate the hash table")
    with nogil:
        mask = cap - 1
        for i in range(n):
            key = imsi[i]
            h = mix(<uint64_t>key) & mask
            while keys[h] != 0 and keys[h] != key:
                h = (h + 1) & mask
            if keys[h] == 0:
                keys[h] = key
                vals[h] = nu
                uniq[nu] = key
                nu += 1
                if <uint64_t>nu * 2 >= cap:       # grow: rehash into twice the slots
                    nkeys = <int64_t*>calloc(cap * 2, sizeof(int64_t))
                    nvals = <int32_t*>malloc(cap * 2 * sizeof(int32_t))
                    if nkeys == NULL or nvals == NULL:
                        free(nkeys); free(nvals)
                        failed = True
                        break
                    for k in range(cap):
                        if keys[k] != 0:
                            h = mix(<uint64_t>keys[k]) & (cap * 2 - 1)
                            while nkeys[h] != 0:
                                h = (h + 1) & (cap * 2 - 1)
                            nkeys[h] = keys[k]
                            nvals[h] = vals[k]
                    free(keys); free(vals)
                    keys, vals = nkeys, nvals
                    cap *= 2
                    mask = cap - 1
                    nkeys = <int64_t*>malloc(cap // 2 * sizeof(int64_t))
                    if nkeys == NULL:
                        failed = True
                        break
                    memcpy(nkeys, uniq, nu * sizeof(int64_t))
                    free(uniq)
                    uniq = nkeys
                ids[i] = nu - 1
            else:
                ids[i] = vals[h]
    free(keys); free(vals)
    if failed:
        free(uniq)
        raise MemoryError("dense_ids: cannot grow the hash table")
    out = np.empty(nu, dtype=np.int64)
    cdef int64_t[::1] o = out
    for i in range(nu):
        o[i] = uniq[i]
    free(uniq)
    return out


def assign_partitions(const int64_t[::1] imsi, int nparts, uint64_t seed, uint8_t[::1] part,
                      int64_t[::1] counts):
    """OUT part[i]: partition of imsi[i] (a seeded murmur3 mix); counts[p] rows each.

    nparts <= 256.
    """
    cdef Py_ssize_t i, n = imsi.shape[0]
    cdef uint64_t salt = 0x9E3779B97F4A7C15ULL * (seed + 1)
    cdef uint8_t q
    if part.shape[0] < n or counts.shape[0] < nparts or not 1 <= nparts <= 256:
        raise ValueError("assign_partitions: part or counts too short, or nparts not 1..256")
    with nogil:
        for i in range(nparts):
            counts[i] = 0
        for i in range(n):
            q = <uint8_t>(mix(<uint64_t>imsi[i] ^ salt) % <uint64_t>nparts)
            part[i] = q
            counts[q] += 1


def scatter_rows(const uint8_t[::1] rtype, const int64_t[::1] time, const int64_t[::1] imsi,
                 const int64_t[::1] imei, const int64_t[::1] msisdn, const int64_t[::1] other,
                 const int32_t[::1] duration, const int32_t[::1] cell,
                 const uint8_t[::1] part, int64_t[::1] fill, const int64_t[::1] cap,
                 const int64_t[:, ::1] addr):
    """Append row i to partition part[i]: its column c is the array at address addr[c, p]
    (capacity cap[p] rows, fill[p] rows in use, advanced here).  Rows keep their order.

    The caller keeps those arrays alive and large enough: checked against cap before writing.
    """
    cdef Py_ssize_t i, n = time.shape[0], nparts = fill.shape[0]
    cdef Py_ssize_t p
    cdef int64_t k
    cdef uint8_t q
    cdef int64_t need[256]
    cdef uint8_t* d_rtype[256]
    cdef int64_t* d_time[256]
    cdef int64_t* d_imsi[256]
    cdef int64_t* d_imei[256]
    cdef int64_t* d_msisdn[256]
    cdef int64_t* d_other[256]
    cdef int32_t* d_duration[256]
    cdef int32_t* d_cell[256]
    if (nparts > 256 or cap.shape[0] != nparts or addr.shape[0] != 8 or addr.shape[1] != nparts
            or part.shape[0] < n):
        raise ValueError("scatter_rows: fill, cap, addr or part of the wrong shape")
    cdef Py_ssize_t bad = -1
    for p in range(nparts):
        need[p] = fill[p]
    with nogil:
        for i in range(n):
            if part[i] >= nparts:
                bad = i
                break
            need[part[i]] += 1
    if bad >= 0:
        raise ValueError(f"scatter_rows: partition {part[bad]} of row {bad} is not below {nparts}")
    for p in range(nparts):
        if need[p] > cap[p] or (need[p] > fill[p] and addr[0, p] == 0):
            raise ValueError(f"scatter_rows: partition {p} needs {need[p]} rows, has {cap[p]}")
        d_rtype[p] = <uint8_t*><size_t>addr[0, p]
        d_time[p] = <int64_t*><size_t>addr[1, p]
        d_imsi[p] = <int64_t*><size_t>addr[2, p]
        d_imei[p] = <int64_t*><size_t>addr[3, p]
        d_msisdn[p] = <int64_t*><size_t>addr[4, p]
        d_other[p] = <int64_t*><size_t>addr[5, p]
        d_duration[p] = <int32_t*><size_t>addr[6, p]
        d_cell[p] = <int32_t*><size_t>addr[7, p]
    with nogil:
        for i in range(n):
            q = part[i]
            k = fill[q]
            d_rtype[q][k] = rtype[i]
            d_time[q][k] = time[i]
            d_imsi[q][k] = imsi[i]
            d_imei[q][k] = imei[i]
            d_msisdn[q][k] = msisdn[i]
            d_other[q][k] = other[i]
            d_duration[q][k] = duration[i]
            d_cell[q][k] = cell[i]
            fill[q] = k + 1


cdef extern from "<sys/mman.h>" nogil:
    void* mmap(void* addr, size_t length, int prot, int flags, int fd, long offset)
    void* mremap(void* old, size_t old_size, size_t new_size, int flags)
    int munmap(void* addr, size_t length)
    int PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS, MREMAP_MAYMOVE
    void* MAP_FAILED


cdef size_t PAGE = 4096


cdef class GrowingColumn:
    """A column that grows in place: its own anonymous mapping, enlarged by ``mremap``
    (the kernel moves the page tables, no row is copied; new rows cost no memory
    until written).  ``view(n)`` is an array of the first n rows; no view may be
    alive when the column grows (the owner, ``partition.Partitioner``, only takes
    views once filling is over; a view keeps the column, so its mapping, alive).
    """
    cdef char* ptr
    cdef size_t nbytes
    cdef readonly Py_ssize_t capacity
    cdef readonly object dtype
    cdef Py_ssize_t itemsize

    def __cinit__(self, dtype):
        self.dtype = np.dtype(dtype)
        self.itemsize = self.dtype.itemsize
        self.ptr = NULL
        self.nbytes = 0
        self.capacity = 0

    def __dealloc__(self):
        if self.ptr != NULL:
            munmap(self.ptr, self.nbytes)

    def grow(self, Py_ssize_t rows):
        """Capacity of at least ``rows`` rows (the rows already there are kept)."""
        cdef void* p
        cdef size_t nbytes
        if rows <= self.capacity:
            return
        nbytes = (<size_t>rows * self.itemsize + PAGE - 1) & ~(PAGE - 1)
        if self.ptr == NULL:
            p = mmap(NULL, nbytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        else:
            p = mremap(self.ptr, self.nbytes, nbytes, MREMAP_MAYMOVE)
        if p == MAP_FAILED:
            raise MemoryError(f"no memory for a column of {rows} rows")
        self.ptr = <char*>p
        self.nbytes = nbytes
        self.capacity = nbytes // self.itemsize
    @property
    def address(self):
        return <size_t>self.ptr

    def view(self, Py_ssize_t rows):
        """The first ``rows`` rows as an array (which keeps this column alive)."""
        cdef cnp.npy_intp dims[1]
        if not 0 <= rows <= self.capacity or self.ptr == NULL:
            raise ValueError(f"view of {rows} rows of a column of {self.capacity}")
        dims[0] = rows
        arr = cnp.PyArray_SimpleNewFromData(1, dims, self.dtype.num, <void*>self.ptr)
        cpython.Py_INCREF(self)
        cnp.PyArray_SetBaseObject(arr, self)
        return arr
