"""A plain CSV file's text mapped in memory, for the CSV reader to parse in place.

Reading a big file into a buffer copies every byte once more (kernel to buffer);
a mapping lets the parser read the page cache directly.
"""
from __future__ import annotations

import mmap

MAP_SLACK = 4096      # bytes at the end of a mapped file parsed from a buffer instead
FIND_WINDOW = 2 << 20  # the end of the mapped part is looked for this far back


class MappedText:
    """A plain file's text mapped in memory, parsed in place (no copy into a buffer).

    Parsing stops at ``cut``, the end of the last line ending at least
    :data:`MAP_SLACK` bytes (and at most :data:`FIND_WINDOW` more) before the end of the
    file, else that point itself (the parser never reads past
    the part it is given, but the mapping has no slack after the file's last byte);
    the rest goes through the ordinary buffer.  Parsed pages are dropped from the
    mapping as batches go (the text stays in the page cache; the process's resident
    memory does not grow with the file).
    """

    def __init__(self, f, size):
        self.mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self.size = size
        stop = max(size - MAP_SLACK, 0)
        # the last line end within a window (a long last line is not read through)
        nl = self.mm.rfind(b"\n", max(stop - FIND_WINDOW, 0), stop)
        self.cut = nl + 1 if nl >= 0 else stop
        self.dropped = 0
        if hasattr(mmap, "MADV_SEQUENTIAL"):
            self.mm.madvise(mmap.MADV_SEQUENTIAL)

    def drop(self, pos):
        end = pos - pos % mmap.PAGESIZE
        if end > self.dropped and hasattr(mmap, "MADV_DONTNEED"):
            self.mm.madvise(mmap.MADV_DONTNEED, self.dropped, end - self.dropped)
            self.dropped = end

    def close(self):
        try:
            self.mm.close()
        except BufferError:      # a view still refers to it: freed with the view
            pass


class MappedTail:
    """The rest of a mapped file from ``pos``, read like a stream (in bounded pieces), so a
    long last record never costs more than the reader's buffer; closes the map at its end."""

    problem = None

    def __init__(self, mapped: MappedText, pos: int):
        self.mapped = mapped
        self.raw_pos = pos

    def readinto(self, mv) -> int:
        m = self.mapped
        n = max(0, min(len(mv), m.size - self.raw_pos))
        if n:
            mv[:n] = m.mm[self.raw_pos:self.raw_pos + n]
            self.raw_pos += n
            m.drop(self.raw_pos)
        else:
            m.close()
        return n
