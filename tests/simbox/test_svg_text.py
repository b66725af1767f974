"""simbox.svg.text writes what ElementTree writes (the reference), on random trees."""
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simbox.svg import add, root, text

TEXTS = st.text(alphabet=st.sampled_from(list('a1 .&<>"\'\r\n\t;é\u4e2d')), max_size=6)
NAMES = st.sampled_from(["g", "rect", "text", "title", "path", "svg", "a:b"])
KEYS = st.sampled_from(["x", "y", "fill", "stroke-width", "class", "xmlns", "aria-label"])


@st.composite
def trees(draw, depth=0):
    e = ET.Element(draw(NAMES), {k: draw(TEXTS) for k in draw(st.lists(KEYS, max_size=3))})
    e.text = draw(st.one_of(st.none(), TEXTS))
    if depth:
        e.tail = draw(st.one_of(st.none(), TEXTS))
    if depth < 3:
        e.extend(draw(st.lists(trees(depth + 1), max_size=3)))
    return e


@settings(max_examples=300, deadline=None)
@given(tree=trees())
def test_the_text_elementtree_writes(tree):
    assert text(tree) == ET.tostring(tree, encoding="unicode", short_empty_elements=True)


def test_what_it_does_not_write_is_left_to_elementtree():
    svg = root(10, 10, "a <map>", "map")
    add(svg, "rect", x="1", fill="#fff")
    svg.append(ET.Comment(" a & b "))
    ET.SubElement(svg, "{http://www.w3.org/1999/xlink}a", {"{http://www.w3.org/1999/xlink}href": "#x"})
    assert text(svg) == ET.tostring(svg, encoding="unicode", short_empty_elements=True)
    bad = root(10, 10, "m")
    add(bad, "rect", x=5)                       # (a number, not a text: ElementTree refuses it)
    with pytest.raises(TypeError, match="cannot serialize 5"):
        text(bad)
