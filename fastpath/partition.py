"""Partition events by IMSI hash, spill to disk under a memory budget, reduce in threads.

Every event of one IMSI lands in the same partition, whatever file or batch it
came from, so each partition can be reduced on its own.  Partitions are kept in
memory until the buffered events exceed the memory budget; then every buffered
partition is appended to column files in a temporary folder (removed at the
end, also on error).  A spilled partition too large to reduce within the
budget is split again by a differently seeded hash (recursively), so memory
stays bounded whatever the input size.  Partitions are reduced by ``workers``
threads (the kernels release the GIL); reading can run in its own thread.
"""
from __future__ import annotations

import os
import queue
import re
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from simbox.errors import ConfigError
from simbox.fastpath import _partition
from simbox.fastpath.events import BYTES_PER_EVENT, COLUMNS, COLUMN_NAMES
from simbox.fastpath.machine import usable_cores
from simbox.progress import as_progress

DEFAULT_MEMORY_LIMIT = "1GB"
NPARTS = 32
# bytes of working memory the reduction of one partition needs per event (event
# columns, the sorted copy, ids and order, the pair and move tables), a safe upper bound
WORK_BYTES_PER_EVENT = 5 * BYTES_PER_EVENT
READ_CHUNK = 1 << 20
MIN_CAPACITY = 1 << 14      # rows of a partition's first arrays
MAX_DEPTH = 6

_UNITS = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MB": 1 << 20,
          "MIB": 1 << 20, "G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30, "T": 1 << 40, "TB": 1 << 40}


def parse_memory(value) -> int:
    """Bytes of a memory size: an int, or text such as ``"512MB"``, ``"2G"``, ``"1.5GiB"``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        n = int(value)
    else:
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([A-Za-z]*)\s*", str(value))
        if not m or m.group(2).upper() not in _UNITS:
            raise ConfigError(f"memory limit {value!r} is not a size such as 512MB, 2G or 1.5GiB")
        n = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if n < 1 << 20:
        raise ConfigError(f"memory limit {value!r} is below 1MB")
    return n


class Partitioner:
    """Events split into ``nparts`` partitions by IMSI hash, spilled past ``memory_limit`` bytes."""

    def __init__(self, nparts: int = NPARTS, memory_limit: int = 1 << 30, *, seed: int = 0,
                 tmpdir: str | None = None):
        if not 1 <= nparts <= 256:
            raise ValueError("nparts must be 1..256")
        self.nparts = nparts
        self.memory_limit = int(memory_limit)
        self.seed = seed
        self._tmp_parent = tmpdir
        self.tmpdir: str | None = None
        # per partition: its column arrays (capacity rows, mem_rows[p] of them in use) or None
        self.mem: list = [None] * nparts
        self.cap = np.zeros(nparts, np.int64)
        self.mem_rows = np.zeros(nparts, np.int64)
        self.disk_rows = np.zeros(nparts, np.int64)
        self.buffered_bytes = 0
        self.rows = 0
        self.spills = 0
        self._part = np.empty(0, np.uint8)
        self._addr = np.zeros((len(COLUMNS), nparts), np.int64)

    # -- filling
    def add(self, cols: dict) -> None:
        """Append the events of ``cols`` to their partitions (spilling past the budget).

        Each partition's columns grow in place (:class:`_partition.GrowingColumn`),
        so a partition is contiguous without a join, and ``cols`` is free to be
        reused once this returns.
        """
        n = len(cols["imsi"])
        if n == 0:
            return
        src = [np.ascontiguousarray(cols[name], dtype) for name, dtype in COLUMNS]
        if len(self._part) < n:
            self._part = np.empty(n, np.uint8)
        counts = np.zeros(self.nparts, np.int64)
        _partition.assign_partitions(src[2], self.nparts, self.seed, self._part, counts)
        need = self.mem_rows + counts
        for p in np.flatnonzero(need > self.cap).tolist():
            self._grow(p, int(need[p]))
        _partition.scatter_rows(*src, self._part, self.mem_rows, self.cap, self._addr)
        self.rows += n
        self.buffered_bytes += n * BYTES_PER_EVENT
        if self.buffered_bytes > self.memory_limit:
            self.spill()

    def _grow(self, p: int, need: int) -> None:
        cap = max(need, 2 * int(self.cap[p]), MIN_CAPACITY)
        if self.mem[p] is None:
            self.mem[p] = [_partition.GrowingColumn(dtype) for _, dtype in COLUMNS]
        for c, col in enumerate(self.mem[p]):      # no view of them is alive while filling
            col.grow(cap)
            self._addr[c, p] = col.address
        self.cap[p] = cap

    def _release(self, p: int) -> None:
        self.buffered_bytes -= int(self.mem_rows[p]) * BYTES_PER_EVENT
        self.mem[p] = None
        self.mem_rows[p] = 0
        self.cap[p] = 0
        self._addr[:, p] = 0

    def _in_memory(self, p: int) -> list:
        """Views of the buffered rows of partition ``p``, one per column (empty if none)."""
        k = int(self.mem_rows[p])
        if not k:
            return []
        return [col.view(k) for col in self.mem[p]]

    def spill(self) -> None:
        """Append every buffered partition to its column files and free the memory."""
        if self.tmpdir is None:
            self.tmpdir = tempfile.mkdtemp(prefix="simbox-spill-", dir=self._tmp_parent)
        for p in range(self.nparts):
            if self.mem[p] is None:
                continue
            for name, arr in zip(COLUMN_NAMES, self._in_memory(p)):
                with open(self._path(p, name), "ab") as fh:
                    arr.tofile(fh)
            self.disk_rows[p] += self.mem_rows[p]
            self._release(p)
        self.buffered_bytes = 0
        self.spills += 1

    def _path(self, p: int, name: str) -> str:
        return os.path.join(self.tmpdir, f"p{p:03d}.{name}")

    # -- reading back
    def rows_of(self, p: int) -> int:
        return int(self.mem_rows[p] + self.disk_rows[p])

    def load(self, p: int, *, release: bool = True) -> dict:
        """All events of partition ``p`` as contiguous columns (memory part released).

        Events only in memory come back as views of the partition's arrays, no copy.
        """
        mem = self._in_memory(p)
        out = {}
        for c, (name, dtype) in enumerate(COLUMNS):
            parts = []
            if self.disk_rows[p]:
                parts.append(np.fromfile(self._path(p, name), dtype=dtype))
            if mem:
                parts.append(mem[c])
            out[name] = (np.concatenate(parts) if len(parts) != 1 else parts[0]) \
                if parts else np.empty(0, dtype)
        if release:
            self._release(p)
        return out

    def chunks(self, p: int, rows: int = READ_CHUNK):
        """Events of partition ``p`` in chunks of at most ``rows`` (disk part streamed)."""
        n = int(self.disk_rows[p])
        for start in range(0, n, rows):
            k = min(rows, n - start)
            yield {name: np.fromfile(self._path(p, name), dtype=dtype, count=k,
                                     offset=start * np.dtype(dtype).itemsize)
                   for name, dtype in COLUMNS}
        mem = self._in_memory(p)
        if mem:
            yield dict(zip(COLUMN_NAMES, mem))

    def drop(self, p: int) -> None:
        if self.tmpdir is not None:
            for name in COLUMN_NAMES:
                try:
                    os.remove(self._path(p, name))
                except FileNotFoundError:
                    pass
        self._release(p)

    def close(self) -> None:
        for p in range(self.nparts):
            self._release(p)
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _threaded(iterable, depth: int = 2):
    """Iterate ``iterable`` in a background thread (reading overlaps partitioning)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce():
        try:
            for item in iterable:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", done))
        except BaseException as exc:  # handed to the consumer and raised there
            q.put(("error", exc))

    th = threading.Thread(target=produce, name="simbox-reader", daemon=True)
    th.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        th.join(timeout=5)


def reduce_partitioned(batches, reduce_fn, *, memory_limit=DEFAULT_MEMORY_LIMIT, workers: int = 2,
                       nparts: int = NPARTS, tmpdir: str | None = None,
                       read_thread: bool | None = None,
                       progress=None, info: dict | None = None, on_read_done=None,
                       reuse_batches: bool = False) -> list:
    """Partition ``batches`` (EventBatch or column dicts) by IMSI and reduce each partition.

    ``reduce_fn(columns) -> result`` is called once per non-empty partition (from
    ``workers`` threads), after ``on_read_done()`` (if given) has run once all input
    is read; returns the list of results.  ``info`` (a dict), if given, receives
    ``rows``, ``spills`` and ``splits``.  ``reuse_batches``: the caller keeps no batch,
    so the memory of those marked ``reusable`` by their reader goes back to it
    (:meth:`EventBatch.recycle`) to receive a later batch.  ``read_thread``: read in
    a thread of its own, beside the partitioning (default: when the process may use
    two cores or more; on one, the thread could only take turns with this one).
    """
    limit = parse_memory(memory_limit)
    workers = max(1, int(workers))
    info = info if info is not None else {}
    info.setdefault("splits", 0)
    if read_thread is None:
        read_thread = usable_cores() > 1
    source = _threaded(batches) if read_thread else batches
    with Partitioner(nparts, limit, tmpdir=tmpdir) as part:
        for b in source:
            if hasattr(b, "columns") and callable(b.columns):
                part.add(b.columns())
                if reuse_batches and hasattr(b, "recycle"):
                    b.recycle()
            else:
                part.add(b)
            del b
        if part.spills:
            part.spill()      # all on disk: the buffers' memory goes to the reducers
        info["rows"] = part.rows
        info["spills"] = part.spills
        if on_read_done is not None:
            on_read_done()
        budget = max(limit // workers, 1 << 20)
        todo = [p for p in range(nparts) if part.rows_of(p)]
        progress = as_progress(progress)
        progress(0, total=len(todo))
        lock = threading.Lock()

        def one(p):
            if part.rows_of(p) * WORK_BYTES_PER_EVENT > budget and part.disk_rows[p]:
                res = _split_and_reduce(part, p, reduce_fn, budget, tmpdir, 1, info, lock)
            else:
                res = [reduce_fn(part.load(p))]
            part.drop(p)
            with lock:
                progress(1)
            return res

        if workers == 1 or len(todo) <= 1:
            results = [one(p) for p in todo]
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="simbox-reduce") as ex:
                results = list(ex.map(one, todo))
    return [r for rs in results for r in rs]


def _split_and_reduce(parent, p, reduce_fn, budget, tmpdir, depth, info, lock):
    """Re-partition spilled partition ``p`` of ``parent`` with another seed and reduce the parts."""
    with lock:
        info["splits"] += 1
    with Partitioner(NPARTS, budget, seed=depth, tmpdir=tmpdir) as child:
        for chunk in parent.chunks(p, rows=max(1, budget // (4 * BYTES_PER_EVENT))):
            child.add(chunk)
        parent.drop(p)
        child.spill()
        out = []
        for q in range(child.nparts):
            n = child.rows_of(q)
            if not n:
                continue
            if n * WORK_BYTES_PER_EVENT > budget and depth < MAX_DEPTH and n < child.rows:
                out += _split_and_reduce(child, q, reduce_fn, budget, tmpdir, depth + 1, info, lock)
            else:
                out.append(reduce_fn(child.load(q)))
            child.drop(q)
        return out
