# cython: language_level=3
"""Hashing kernels of the aggregation: dense IMSI ids and partitioning by IMSI hash.

``dense_ids`` maps IMSI codes to dense ids 0..U-1 (open-addressing hash table, ids
in order of first appearance); ``partition_batch`` groups a batch's columns by
partition of a seeded hash of the IMSI (stable), for ``partition.py``.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
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


def partition_batch(const uint8_t[::1] rtype, const int64_t[::1] time, const int64_t[::1] imsi,
                    const int64_t[::1] imei, const int64_t[::1] msisdn, const int64_t[::1] other,
                    const int32_t[::1] duration, const int32_t[::1] cell,
                    int nparts, uint64_t seed, int64_t[::1] counts,
                    uint8_t[::1] o_rtype, int64_t[::1] o_time, int64_t[::1] o_imsi,
                    int64_t[::1] o_imei, int64_t[::1] o_msisdn, int64_t[::1] o_other,
                    int32_t[::1] o_duration, int32_t[::1] o_cell):
    """OUT o_*: the batch grouped by partition of the IMSI hash (stable), counts[p] rows each.

    Same partition function as :func:`partition_of`; nparts <= 256.
    """
    cdef Py_ssize_t i, n = time.shape[0]
    cdef uint64_t salt = 0x9E3779B97F4A7C15ULL * (seed + 1)
    cdef int64_t pos[256]
    cdef int64_t acc = 0
    cdef uint8_t q
    part_arr = np.empty(n, np.uint8)
    cdef uint8_t[::1] part = part_arr
    with nogil:
        for i in range(nparts):
            counts[i] = 0
        for i in range(n):
            q = <uint8_t>(mix(<uint64_t>imsi[i] ^ salt) % <uint64_t>nparts)
            part[i] = q
            counts[q] += 1
        for i in range(nparts):
            pos[i] = acc
            acc += counts[i]
        for i in range(n):
            q = part[i]
            o_rtype[pos[q]] = rtype[i]
            o_time[pos[q]] = time[i]
            o_imsi[pos[q]] = imsi[i]
            o_imei[pos[q]] = imei[i]
            o_msisdn[pos[q]] = msisdn[i]
            o_other[pos[q]] = other[i]
            o_duration[pos[q]] = duration[i]
            o_cell[pos[q]] = cell[i]
            pos[q] += 1
