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
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from simbox.errors import InputError

__all__ = ["OUTPUT_FILES", "check_output_folder", "atomic_folder", "write_csv", "write_geojson",
           "write_kml", "iso_times", "KML_NS"]

OUTPUT_FILES = ("flagged.csv", "deployments.csv", "sites.csv", "sites.geojson", "sites.kml",
                "report.html", "summary.json", "rejects.csv")
KML_NS = "http://www.opengis.net/kml/2.2"
CLASS_COLOURS = {"simbox": "#d62728", "cardfarm": "#7b3fb2"}   # also used by the report


def check_output_folder(out) -> Path:
    """The output folder as a Path, refused when it holds files a scan does not write."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise InputError(f"{out}: exists and is not a folder (give a folder for --out)")
        foreign = sorted(p.name for p in out.iterdir() if p.name not in OUTPUT_FILES)
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise InputError(f"{out}: refusing to replace a folder that holds files simbox did "
                             f"not write ({shown}); give a new or empty folder for --out")
    return out


@contextlib.contextmanager
def atomic_folder(out):
    """Yield a temporary folder; on success it replaces ``out`` in one rename."""
    out = check_output_folder(out)
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    os.chmod(tmp, 0o777 & ~_umask())
    old = None
    if out.exists():
        check_output_folder(out)
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=parent))
        os.rename(out, old / out.name)
    os.rename(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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
            s = s.dt.tz_convert("UTC") if s.dt.tz is not None else s.dt.tz_localize("UTC")
            out[c] = s.dt.strftime("%Y-%m-%dT%H:%M:%SZ").where(s.notna(), "")
    return out


def write_csv(df: pd.DataFrame, path) -> None:
    iso_times(df).to_csv(path, index=False, lineterminator="\n", float_format="%.10g")


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
    pts = [(round(lon + x, 7), round(lat + y, 7)) for x, y in zip(dlon, dlat)]
    pts[-1] = pts[0]
    return pts


def _kml_colour(hex_rgb: str, alpha: str = "ff") -> str:
    r, g, b = hex_rgb[1:3], hex_rgb[3:5], hex_rgb[5:7]
    return f"{alpha}{b}{g}{r}"   # KML colours are aabbggrr


def kml(sites: pd.DataFrame, title: str = "simbox sites") -> str:
    """The site list as a KML 2.2 document (one Placemark per site)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', f'<kml xmlns="{KML_NS}">', "<Document>",
           f"<name>{escape(title)}</name>"]
    for cls, colour in CLASS_COLOURS.items():
        out.append(f'<Style id="{cls}"><IconStyle><color>{_kml_colour(colour)}</color><scale>1.2</scale>'
                   f"</IconStyle><LineStyle><color>{_kml_colour(colour)}</color><width>2</width>"
                   f"</LineStyle><PolyStyle><color>{_kml_colour(colour, '40')}</color></PolyStyle></Style>")
    for row in iso_times(sites).to_dict(orient="records"):
        lat, lon = row["lat"], row["lon"]
        located = not (pd.isna(lat) or pd.isna(lon))
        style = row.get("class") if row.get("class") in CLASS_COLOURS else "simbox"
        data = "".join(f'<Data name="{escape(str(k))}"><value>{escape("" if pd.isna(v) else str(v))}'
                       "</value></Data>" for k, v in row.items() if k not in ("lat", "lon"))
        desc = (f"{row['n_sims']} SIMs, {row['n_devices']} devices, deployments {row['deployments']}; "
                f"active {row['active_hours']}; seen {row['first_seen']} to {row['last_seen']}; "
                f"priority {row['priority']}")
        if row.get("radius_m") and row["radius_m"] > 0:
            desc += f"; within about {row['radius_m']:.0f} m"
        if not located:
            desc = "coordinates unknown (no cell table); " + desc
        point = f"<Point><coordinates>{lon:.7f},{lat:.7f},0</coordinates></Point>" if located else ""
        out.append(f"<Placemark><name>{escape(str(row['site_id']))}</name>"
                   f"<description>{escape(desc)}</description><styleUrl>#{style}</styleUrl>"
                   f"<ExtendedData>{data}</ExtendedData>{point}</Placemark>")
        if located and row.get("radius_m") and row["radius_m"] > 0:
            ring = " ".join(f"{x:.7f},{y:.7f},0" for x, y in circle(lat, lon, float(row["radius_m"])))
            out.append(f"<Placemark><name>{escape(str(row['site_id']))} (confidence radius)</name>"
                       f"<styleUrl>#{style}</styleUrl><Polygon><outerBoundaryIs><LinearRing>"
                       f"<coordinates>{ring}</coordinates></LinearRing></outerBoundaryIs></Polygon>"
                       "</Placemark>")
    out += ["</Document>", "</kml>", ""]
    return "\n".join(out)


def write_kml(sites: pd.DataFrame, path, title: str = "simbox sites") -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(kml(sites, title))
