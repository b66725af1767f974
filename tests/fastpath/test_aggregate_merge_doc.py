"""docs/internals.md says, for every output of the reduction kernel, how partials merge
(issue 16 builds on it): a slot or table added to the kernel without a row there fails here."""
import dataclasses
import pathlib
import re

from simbox.fastpath.aggregate import SLOTS, TABLES, Reduced

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "internals.md"


def merge_table_names() -> set:
    """The names in backticks in the first column of the merge table."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### Merging partial reductions", 1)[1].split("\n#", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| outputs") and not line.startswith("|---"):
            first = line.split("|")[1]
            names.update(re.findall(r"`([a-z_0-9*]+)`", first))
    return names


def test_every_slot_has_a_merge_rule():
    missing = [s for s in SLOTS if s not in merge_table_names()]
    assert missing == []


def test_every_per_imsi_output_and_table_has_a_merge_rule():
    names = merge_table_names()
    per_imsi = [f.name for f in dataclasses.fields(Reduced)
                if f.name not in ("imsi", "feats", "duplicates")
                and not any(f.name in fields for fields in TABLES.values())]
    assert per_imsi == ["hours", "msisdn", "main_imei", "main_cell", "main_site"]
    assert [n for n in per_imsi if n not in names] == []
    # each pair or move table: its counted column (or the table) is named
    for table in TABLES:
        assert any(n.startswith(table + "_") for n in names), table
