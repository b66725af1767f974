"""Structural checks of the GIS files a scan writes (RFC 7946 GeoJSON, KML 2.2)."""
import json
import math
import xml.etree.ElementTree as ET

from simbox.outputs import KML_NS


def check_rfc7946(doc):
    """The structure RFC 7946 requires of a FeatureCollection of Points."""
    assert set(doc) <= {"type", "features", "bbox"} and doc["type"] == "FeatureCollection"
    assert "crs" not in doc
    for f in doc["features"]:
        assert f["type"] == "Feature" and set(f) <= {"type", "geometry", "properties", "id", "bbox"}
        assert isinstance(f.get("id", ""), (str, int, float))
        assert f["properties"] is None or isinstance(f["properties"], dict)
        g = f["geometry"]
        if g is None:                # a site whose coordinates are unknown (RFC 7946 3.2)
            assert f["properties"]["coordinates"] == "unknown"
            json.dumps(f["properties"], allow_nan=False)
            continue
        assert g["type"] == "Point" and set(g) == {"type", "coordinates"}
        assert len(g["coordinates"]) in (2, 3)
        assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in g["coordinates"])
        lon, lat = g["coordinates"][:2]
        assert -180 <= lon <= 180 and -90 <= lat <= 90
        # JSON values only: no NaN sneaked in as a bare token
        json.dumps(f["properties"], allow_nan=False)


def check_kml(path):
    """Parse a KML file in the KML 2.2 namespace; return its point placemarks
    (name, lon, lat, ExtendedData) and its polygon placemarks."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{{{KML_NS}}}kml"
    ns = {"k": KML_NS}
    points, rings = [], []
    for m in root.findall(".//k:Placemark", ns):
        if m.find("k:Point", ns) is not None:
            lon, lat, _ = map(float, m.find("k:Point/k:coordinates", ns).text.split(","))
            assert -180 <= lon <= 180 and -90 <= lat <= 90
            data = {d.get("name"): d.find("k:value", ns).text for d in m.findall(".//k:Data", ns)}
            points.append({"name": m.find("k:name", ns).text, "lon": lon, "lat": lat, "data": data})
        elif m.find("k:Polygon", ns) is not None:
            ring = m.find(".//k:LinearRing/k:coordinates", ns).text.split()
            assert ring[0] == ring[-1] and len(ring) >= 4
            rings.append(m)
    return points, rings
