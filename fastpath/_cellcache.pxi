# The cell-token cache of the CSV kernel, included by _csvread.pyx.

cdef extern from "<stdlib.h>" nogil:
    void* aligned_alloc(size_t alignment, size_t size)

cdef extern from * nogil:
    void prefetch "__builtin_prefetch"(const void* p)

cdef enum:
    INLINE = 16           # token bytes kept in the slot itself (Slot.head)

cdef class CellCache:
    """A C hash table memoising ``cells.code(token)`` for byte tokens.

    Every code comes from the ``CellDict`` itself, so the codes stay those of the
    run's dictionary whoever else adds tokens to it.
    """
    cdef Slot* slots        # open addressing, linear probing
    cdef size_t mask        # capacity - 1 (capacity a power of two)
    cdef size_t used
    cdef uint8_t* arena     # token bytes
    cdef size_t arena_len, arena_cap
    cdef readonly object cells

    def __cinit__(self, cells):
        self.cells = cells
        self.mask = 1023
        self.slots = <Slot*>aligned_alloc(64, (self.mask + 1) * sizeof(Slot))
        self.arena_cap = 1 << 16
        self.arena = <uint8_t*>malloc(self.arena_cap)
        if self.slots == NULL or self.arena == NULL:
            raise MemoryError("cell cache")
        cdef size_t i
        for i in range(self.mask + 1):
            self.slots[i].code = -1
        self.used = 0
        self.arena_len = 0

    def __dealloc__(self):
        free(self.slots)
        free(self.arena)

    def __len__(self):
        return self.used

    def lookup(self, bytes token):
        """Code of ``token`` (UTF-8 bytes), added to the CellDict if new."""
        return self._lookup(<const uint8_t*>(<char*>token), len(token))

    cdef inline uint64_t _prefetch(self, const uint8_t* s, Py_ssize_t n) noexcept nogil:
        """Start loading the slot of a token looked up soon (hides a cache miss: the
        parser streams much more data through the cache than this table); returns the
        token's hash for :meth:`_lookup_hashed`."""
        cdef uint64_t h = _hash(s, n)
        prefetch(&self.slots[h & self.mask])
        return h

    cdef inline int32_t _lookup(self, const uint8_t* s, Py_ssize_t n) except -2 nogil:
        return self._lookup_hashed(s, n, _hash(s, n))

    cdef int32_t _lookup_hashed(self, const uint8_t* s, Py_ssize_t n, uint64_t h) except -2 nogil:
        """Code of the token s[:n] whose _hash is h."""
        cdef uint32_t hi = <uint32_t>(h >> 32)
        cdef size_t i = h & self.mask
        cdef Slot* sl
        while True:
            sl = &self.slots[i]
            if sl.code < 0:
                break
            if sl.h == hi and sl.length == n:
                if n <= INLINE:
                    if _eq(sl.head, s, n):
                        return sl.code
                elif _eq(sl.head, s, INLINE) and _eq(self.arena + sl.off, s, n):
                    return sl.code
            i = (i + 1) & self.mask
        with gil:
            return self._insert(s, n, h)

    cdef int32_t _insert(self, const uint8_t* s, Py_ssize_t n, uint64_t h) except -2:
        token = (<const char*>s)[:n].decode("utf-8", "surrogateescape")
        cdef int64_t code = self.cells.code(token)
        if code < 0 or code > 2147483647:
            raise OverflowError(f"cell code {code} out of int32 range")
        cdef uint8_t* na
        if self.arena_len + n > 0xFFFFFFFF:
            raise MemoryError("cell cache: more than 4 GiB of distinct cell tokens")
        if self.arena_len + n > self.arena_cap:
            while self.arena_len + n > self.arena_cap:
                self.arena_cap *= 2
            na = <uint8_t*>realloc(self.arena, self.arena_cap)
            if na == NULL:
                raise MemoryError("cell cache")
            self.arena = na
        memcpy(self.arena + self.arena_len, s, n)
        if (self.used + 1) * 2 > self.mask + 1:
            self._grow()
        cdef size_t i = h & self.mask
        while self.slots[i].code >= 0:
            i = (i + 1) & self.mask
        self.slots[i].h = <uint32_t>(h >> 32)
        self.slots[i].off = <uint32_t>self.arena_len
        self.slots[i].length = <int32_t>n
        self.slots[i].code = <int32_t>code
        memset(self.slots[i].head, 0, INLINE)
        memcpy(self.slots[i].head, s, n if n < INLINE else INLINE)
        self.arena_len += n
        self.used += 1
        return <int32_t>code

    cdef uint64_t _token_hash(self, const Slot* sl) noexcept nogil:
        if sl.length <= INLINE:
            return _hash(sl.head, sl.length)
        return _hash(self.arena + sl.off, sl.length)

    cdef int _grow(self) except -1:
        cdef size_t cap = (self.mask + 1) * 2, i, j
        cdef Slot* ns = <Slot*>aligned_alloc(64, cap * sizeof(Slot))
        if ns == NULL:
            raise MemoryError("cell cache")
        for i in range(cap):
            ns[i].code = -1
        for i in range(self.mask + 1):
            if self.slots[i].code >= 0:
                j = self._token_hash(&self.slots[i]) & (cap - 1)
                while ns[j].code >= 0:
                    j = (j + 1) & (cap - 1)
                ns[j] = self.slots[i]
        free(self.slots)
        self.slots = ns
        self.mask = cap - 1
        return 0
