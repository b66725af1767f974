"""The files of a scan: CSV tables, GeoJSON and KML site lists, written atomically.

Every file of a scan is written into a temporary folder next to the output
folder, which then replaces the output folder in one rename: a scan that fails
half way leaves the previous output (or nothing) behind, never a mix.  An
existing output folder is replaced only when it holds nothing but files a scan
writes, so pointing ``--out`` at a folder of other files is refused.

Times are ISO 8601 UTC (``2026-03-01T12:00:05Z``).  The GeoJSON follows RFC 7946
(a FeatureCollection of Point features, ``[longitude, latitude]``, WGS 84, no
``crs`` member); the KML (OGC KML 2.2) holds one placemark per site and, for
sites with a confidence radius, a circle polygon around it.
"""
from __future__ import annotations

import contextlib
import csv
import errno
import json
import logging
import math
import re
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd

from simbox.deployments import one_text
from simbox.errors import InputError, OutputError, SimboxError
from simbox.fastpath.csvwrite import (ARROW, CODES, OBJECTS, TEXT, TIME, arrow_text, codes_column,
                                      csv_chunks, first_bytes_in, first_chars_in,
                                      kernel_column, time_column)

__all__ = ["OUTPUT_FILES", "check_output_folder", "atomic_folder", "OutputLock", "write_csv",
           "write_geojson", "write_kml", "iso_times", "neutralise_formulas", "KML_NS"]

OUTPUT_FILES = ("flagged.csv", "excluded.csv", "deployments.csv", "sites.csv", "sites.geojson",
                "sites.kml", "scores.csv", "report.html", "summary.json", "rejects.csv")
log = logging.getLogger("simbox.outputs")
KML_NS = "http://www.opengis.net/kml/2.2"
CLASS_COLOURS = {"simbox": "#d62728", "cardfarm": "#7b3fb2"}   # also used by the report


def check_output_folder(out, files=OUTPUT_FILES) -> Path:
    """The output folder as a Path, refused when it holds files other than ``files`` (those
    a scan writes)."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise InputError(f"{out}: exists and is not a folder (give a folder for --out)")
        foreign = sorted(p.name for p in out.iterdir() if p.name not in files)
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise InputError(f"{out}: refusing to replace a folder that holds files simbox did "
                             f"not write ({shown}); give a new or empty folder for --out")
    return out


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # someone else's live process
        return True
    except OSError:
        return False
    return True


class OutputLock:
    """``.<name>.lock`` beside an output folder: one writer at a time.

    The lock file holds the owner's pid and is held with ``flock`` while the
    owner writes; the kernel releases a ``flock`` when its process dies however
    it dies (kill -9, a crash), so a later run that gets the lock has proof that
    the previous owner is dead, and with it, that temporaries beside the folder
    (``.<name>.*.tmp``, ``.<name>.*.old``) are leftovers it may remove.
    """

    def __init__(self, folder: Path, shown: Path | None = None):
        self.folder = folder
        self.shown = shown or folder
        self.path = folder.parent / f".{folder.name}.lock"
        self.fd = None

    def acquire(self) -> "OutputLock":
        import fcntl  # lazy: POSIX only, only when a folder is locked
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    pid = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
                finally:
                    os.close(fd)
                raise OutputError(f"{self.shown}: another simbox run (pid {pid}) is writing this "
                                 "output folder; wait for it to finish, or give another --out")
            try:                   # the file may have been released and removed meanwhile
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = None

    def stale(self) -> list[Path]:
        """Temporaries of earlier runs on this folder (only call while holding the lock)."""
        mine = re.compile(rf"\.{re.escape(self.folder.name)}\.[A-Za-z0-9_]+\.(tmp|old)")
        return sorted(p for p in self.folder.parent.glob(f".{self.folder.name}.*")
                      if mine.fullmatch(p.name) and p.is_dir() and not p.is_symlink())


ERRNO_WORDS = {errno.ENOSPC: "no space left on the device", errno.EROFS: "read-only file system",
               errno.EDQUOT: "disk quota exceeded", errno.EACCES: "permission denied",
               errno.EPERM: "operation not permitted", errno.EIO: "input/output error"}


def output_error(exc: OSError, out, where=None) -> OutputError:
    """An OSError met while writing ``out`` as one line naming the path and what to do."""
    words = ERRNO_WORDS.get(exc.errno) or (exc.strerror or str(exc)).lower()
    path = where or exc.filename or out
    hint = "free some space or give --out on another disk" if exc.errno in (
        errno.ENOSPC, errno.EDQUOT) else "give a writable folder for --out"
    return OutputError(f"{path}: cannot write the scan output: {words}; {hint}")


@contextlib.contextmanager
def atomic_folder(out, files=OUTPUT_FILES):
    """Yield a temporary folder; on success it replaces ``out`` in one rename.

    ``files``: the names the command writes (an existing ``out`` holding others is
    refused: :func:`check_output_folder`).

    ``out`` may be a symbolic link: the folder it points to is replaced and the
    link kept.  One writer at a time (:class:`OutputLock`): a second run on the
    same folder is refused with one line, and leftovers of killed runs are
    removed.  A failing write (no space, read-only disk) is an
    :class:`~simbox.errors.OutputError` naming the path.
    """
    shown = Path(out)
    real = Path(os.path.realpath(shown)) if shown.is_symlink() else shown.absolute()
    check_output_folder(real if shown.is_symlink() else shown, files)
    parent = real.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, shown, where=exc.filename or parent) from None
    lock = OutputLock(real, shown)
    try:
        lock.acquire()
    except OutputError:
        raise
    except OSError as exc:
        raise output_error(exc, shown, where=shown) from None
    try:
        for old in lock.stale():
            log.warning("%s: removing the leftover of an interrupted run", old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{real.name}.", suffix=".tmp", dir=parent))
        except OSError as exc:
            raise output_error(exc, shown, where=parent) from None
        try:
            yield tmp
            os.chmod(tmp, 0o777 & ~_umask())
            old = None
            if real.exists():
                check_output_folder(real, files)
                old = Path(tempfile.mkdtemp(prefix=f".{real.name}.", suffix=".old", dir=parent))
                os.rename(real, old / real.name)
            os.rename(tmp, real)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, SimboxError):
                raise
            raise output_error(exc, shown) from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        lock.release()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def iso_times(df: pd.DataFrame) -> pd.DataFrame:
    """Datetime columns as ISO 8601 UTC strings (``...Z``); other columns untouched."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            s = out[c]
            secs = utc_times(s).astype("datetime64[s]")   # as strftime: floor
            # (with its "Z": no import of numpy.char, 5-10 ms of a scan; NaT becomes "" below)
            text = np.datetime_as_string(secs, unit="s", timezone="UTC").astype(object)
            out[c] = pd.Series(text, index=out.index).where(s.notna(), "")
    return out


def utc_times(s: pd.Series) -> np.ndarray:
    """A datetime column as naive UTC ``datetime64`` values (a naive column is taken as UTC)."""
    s = s.dt.tz_convert("UTC") if s.dt.tz is not None else s.dt.tz_localize("UTC")
    return s.dt.tz_localize(None).to_numpy()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula, made inert (CSV injection).

    As OWASP recommends: a text cell starting with ``= + - @``, a tab or a carriage
    return gets a leading single quote (``=HYPERLINK(...)`` -> ``'=HYPERLINK(...)``),
    so Excel, LibreOffice and Google Sheets show it as text.  Numbers (``-12.5``)
    and non-text columns are left as they are.
    Only the cells that start with one of those characters are tested further: their
    first characters are looked up by a kernel (Arrow's bytes or the objects', no value
    hashed: 100,000 reasons of flagged SIMs, distinct texts, in about 1 ms).
    """
    out = None
    for c in df.columns:
        col = df[c]
        dtype = col.dtype
        if isinstance(dtype, np.dtype) and dtype.kind == "O":     # objects: a str starting so
            values = col.to_numpy(dtype=object)
            text = first_chars_in(values, FORMULA_BYTES)
            if text.any():
                text[text] = [not _number(v) for v in values[text]]
        elif pd.api.types.is_string_dtype(dtype):    # (of the dtype: no value looked at)
            text = formula_starts(col)
            if text.any():
                text[text] = [not _number(str(v)) for v in col[text]]
        else:
            continue
        if text.any():
            out = df.copy() if out is None else out
            out.loc[text, c] = "'" + col[text].astype(str)
    return df if out is None else out


def arrow_texts(col: pd.Series) -> tuple | None:
    """A text column's values as Arrow holds them (:func:`simbox.fastpath.csvwrite.arrow_text`)
    when it is pandas' ``str`` (or ``string``) dtype stored in pyarrow; else None."""
    if not (isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "pyarrow"):
        return None
    return arrow_text(col.array.__arrow_array__())


#: whether a first byte is one of :data:`FORMULA_START` (a lookup per text, not ``np.isin``)
FORMULA_BYTES = np.zeros(256, dtype=bool)
FORMULA_BYTES[np.frombuffer("".join(FORMULA_START).encode("ascii"), dtype=np.uint8)] = True


def formula_starts(col: pd.Series) -> np.ndarray:
    """Whether each value of a text column starts with a formula character
    (:data:`FORMULA_START`; missing: False), as ``col.str[:1].isin(FORMULA_START)``: from
    the first byte of each value when Arrow holds them (the characters are ASCII, so a
    UTF-8 text starts with one exactly when its first byte is it), by a kernel."""
    texts = arrow_texts(col)
    if texts is None:
        return col.str[:1].isin(FORMULA_START).to_numpy(dtype=bool).copy()
    return first_bytes_in(texts, FORMULA_BYTES)


def _number(v: str) -> bool:
    """Whether a text is a number (``-12.5``: a formula character first, but no formula)."""
    return _NUMBER.fullmatch(v) is not None


FLOAT_PRECISION = 10
FLOAT_FORMAT = f"%.{FLOAT_PRECISION}g"


def write_csv(df: pd.DataFrame, path) -> None:
    """A table as UTF-8 CSV: ISO times, formulas made inert (:func:`neutralise_formulas`).

    The bytes of ``DataFrame.to_csv(index=False, lineterminator="\\n",
    float_format="%.10g")``, written faster: numbers, times and plain texts by a kernel
    (:mod:`simbox.fastpath.csvwrite`; a column of one text as a code, a column of objects
    as they are), each other column as text at once (:func:`csv_texts`); the standard library's writer writes the header, and
    the whole table (times by :func:`iso_times`) when the kernel leaves a value to it.  A
    table without other texts is formatted with the GIL released.
    """
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(list(df.columns))
        # (times are not texts: no formula to neutralise in them; no row: the header alone)
        if len(df) == 0 or df.shape[1] and _write_rows_fast(neutralise_formulas(df), f):
            return
        df = neutralise_formulas(iso_times(df))
        f.seek(0)
        f.truncate()
        w.writerow(list(df.columns))
        w.writerows(zip(*(csv_texts(df.iloc[:, j]) for j in range(df.shape[1]))))


def _write_rows_fast(df: pd.DataFrame, f) -> bool:
    """The rows of ``df`` through the kernel into the text file ``f``; False (some rows
    written) when a value must be written by the csv module."""
    columns, kinds = [], []
    for j in range(df.shape[1]):
        col = df.iloc[:, j]
        numeric = kernel_column(col.to_numpy()) if isinstance(col.dtype, np.dtype) and \
            col.dtype.kind in "fiub" else None
        if numeric is None and pd.api.types.is_datetime64_any_dtype(col.dtype):
            numeric = TIME, time_column(utc_times(col))
        if numeric is None and (texts := arrow_texts(col)) is not None:
            numeric = ARROW, texts            # (texts straight from their Arrow buffers)
        if numeric is None and (one := one_str(col)) is not None:
            # one text in every row (a device rule's reason): written once, copied per row
            numeric = CODES, codes_column(np.zeros(len(col), dtype=np.int64), [one])
        if numeric is None and col.dtype == object:    # (texts, None and NaN: no list made)
            numeric = OBJECTS, np.ascontiguousarray(col.to_numpy(dtype=object))
        kind, values = numeric if numeric is not None else (TEXT, csv_texts(col))
        kinds.append(kind)
        columns.append(values)
    f.flush()
    for chunk in csv_chunks(columns, kinds, precision=FLOAT_PRECISION):
        if chunk is None:
            return False
        f.buffer.write(chunk)
    return True


def one_str(col: pd.Series) -> str | None:
    """The text of an object column holding one ``str`` (exactly) in every row
    (:func:`~simbox.deployments.one_text`), else None."""
    if not pd.api.types.is_object_dtype(col.dtype) or not len(col):
        return None
    values = col.to_numpy()
    return values[0] if type(values[0]) is str and one_text(values) else None


def write_csv_batches(frames, path) -> None:
    """:func:`write_csv` of the concatenation of ``frames`` (DataFrames of the same columns,
    e.g. a table too large for memory, in bounded batches), one frame in memory at a time;
    the header of the first (none given: an empty file)."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        for i, df in enumerate(frames):
            df = neutralise_formulas(iso_times(df))
            if i == 0:
                w.writerow(list(df.columns))
            w.writerows(zip(*(csv_texts(df.iloc[:, j]) for j in range(df.shape[1]))))


def csv_texts(col: pd.Series) -> list:
    """The fields of one column as pandas' ``to_csv`` writes them: floats with
    :data:`FLOAT_FORMAT`, integers and booleans as ``str``, missing values empty, other
    values as they are (the csv writer takes ``str`` of them)."""
    kind = col.dtype.kind if isinstance(col.dtype, np.dtype) else None
    if kind == "f":
        return [FLOAT_FORMAT % v if v == v else "" for v in col.to_numpy().tolist()]
    if kind in ("i", "u", "b"):
        return col.to_numpy().astype(str).tolist()
    values = col.to_numpy(dtype=object)
    missing = col.isna().to_numpy()
    if missing.any():
        values = values.copy()
        values[missing] = ""
    return values.tolist()


def _json_value(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return None if np.isnan(v) else float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def geojson(sites: pd.DataFrame) -> dict:
    """The site list as an RFC 7946 FeatureCollection of Points."""
    features = []
    for row in iso_times(sites).to_dict(orient="records"):
        lat, lon = row["lat"], row["lon"]
        props = {k: _json_value(v) for k, v in row.items() if k not in ("lat", "lon")}
        if lat is None or lon is None or pd.isna(lat) or pd.isna(lon):
            # coordinates unknown (no cell table): a Feature without geometry (RFC 7946 3.2)
            props["coordinates"] = "unknown"
            features.append({"type": "Feature", "id": str(row["site_id"]), "geometry": None,
                             "properties": props})
            continue
        features.append({"type": "Feature", "id": str(row["site_id"]),
                         "geometry": {"type": "Point", "coordinates": [round(float(lon), 7),
                                                                       round(float(lat), 7)]},
                         "properties": props})
    return {"type": "FeatureCollection", "features": features}


def write_geojson(sites: pd.DataFrame, path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(geojson(sites), f, ensure_ascii=False, indent=1)
        f.write("\n")


def circle(lat: float, lon: float, radius_m: float, n: int = 48) -> list[tuple[float, float]]:
    """A closed ring of ``n`` (lon, lat) points ``radius_m`` around a point."""
    ang = np.linspace(0.0, 2 * np.pi, n + 1)
    dlat = np.degrees(radius_m * np.cos(ang) / 6_371_008.8)
    dlon = np.degrees(radius_m * np.sin(ang) / (6_371_008.8 * max(1e-9, math.cos(math.radians(lat)))))
    # numpy's rounding, as round() of its float64 values gives it, for the whole ring at once
    pts = list(zip(np.round(lon + dlon, 7).tolist(), np.round(lat + dlat, 7).tolist()))
    pts[-1] = pts[0]
    return pts


def _kml_colour(hex_rgb: str, alpha: str = "ff") -> str:
    r, g, b = hex_rgb[1:3], hex_rgb[3:5], hex_rgb[5:7]
    return f"{alpha}{b}{g}{r}"   # KML colours are aabbggrr


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib) -> ET.Element:
    e = ET.SubElement(parent, tag, attrib)
    e.text = text
    return e


def kml(sites: pd.DataFrame, title: str = "simbox sites") -> str:
    """The site list as a KML 2.2 document (one Placemark per site)."""
    root = ET.Element("kml", xmlns=KML_NS)
    doc = _sub(root, "Document")
    _sub(doc, "name", title)
    for cls, colour in CLASS_COLOURS.items():
        style = _sub(doc, "Style", id=cls)
        icon = _sub(style, "IconStyle")
        _sub(icon, "color", _kml_colour(colour))
        _sub(icon, "scale", "1.2")
        line = _sub(style, "LineStyle")
        _sub(line, "color", _kml_colour(colour))
        _sub(line, "width", "2")
        _sub(_sub(style, "PolyStyle"), "color", _kml_colour(colour, "40"))
    for row in iso_times(sites).to_dict(orient="records"):
        lat, lon = row["lat"], row["lon"]
        located = not (pd.isna(lat) or pd.isna(lon))
        style = row.get("class") if row.get("class") in CLASS_COLOURS else "simbox"
        desc = (f"{row['n_sims']} SIMs, {row['n_devices']} devices, deployments {row['deployments']}; "
                f"active {row['active_hours']}; seen {row['first_seen']} to {row['last_seen']}; "
                f"priority {row['priority']}")
        if row.get("radius_m") and row["radius_m"] > 0:
            desc += f"; within about {row['radius_m']:.0f} m"
        if not located:
            desc = "coordinates unknown (no cell table); " + desc
        mark = _sub(doc, "Placemark")
        _sub(mark, "name", str(row["site_id"]))
        _sub(mark, "description", desc)
        _sub(mark, "styleUrl", f"#{style}")
        data = _sub(mark, "ExtendedData")
        for k, v in row.items():
            if k not in ("lat", "lon"):
                _sub(_sub(data, "Data", name=str(k)), "value", "" if pd.isna(v) else str(v))
        if located:
            _sub(_sub(mark, "Point"), "coordinates", f"{lon:.7f},{lat:.7f},0")
        if located and row.get("radius_m") and row["radius_m"] > 0:
            ring = " ".join(f"{x:.7f},{y:.7f},0" for x, y in circle(lat, lon, float(row["radius_m"])))
            mark = _sub(doc, "Placemark")
            _sub(mark, "name", f"{row['site_id']} (confidence radius)")
            _sub(mark, "styleUrl", f"#{style}")
            boundary = _sub(_sub(mark, "Polygon"), "outerBoundaryIs")
            _sub(_sub(boundary, "LinearRing"), "coordinates", ring)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_kml(sites: pd.DataFrame, path, title: str = "simbox sites") -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(kml(sites, title))
