"""compute_features with signaling captures: attach events join the CDR events."""
import shutil

from simbox.features import compute_features


def test_signaling_only_imsis_get_a_row(datadir, captures_dir, tmp_path):
    csv = tmp_path / "cdrs.csv"
    csv.write_text("record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id\n"
                   "MOC,2021-03-03T10:32:38Z,987654112233445,436587092110203,896745214365,"
                   "0049301234,12,896457-4660-36984440\n"
                   "MOC,2021-03-03T11:00:00Z,460001111111111,352099001761481,8613800000000,"
                   "0049301234,30,46000-1-2\n")
    pcaps = [captures_dir / "ndpi_gtp_c.pcap", captures_dir / "magma_nsa_connection.pcap"]
    res = compute_features([csv], signaling=pcaps)
    f = res.features
    assert sorted(f.index) == ["222010100001140", "460001111111111", "987654112233445"]
    # the CSR of the ndpi capture: same IMEI and the same cell token as the CDR row
    assert f.loc["987654112233445", "n_moc"] == 1
    assert f.loc["987654112233445", "n_imeis"] == 1 and f.loc["987654112233445", "n_cells"] == 1
    # an IMSI seen only in signaling (magma: S6a ULR + GTPv2-C CSR, no IMEI): a row, no calls
    assert f.loc["222010100001140", "n_moc"] == 0 and f.loc["222010100001140", "n_cells"] == 1
    assert res.stats.files == 3
    # signaling alone is a valid input
    alone = compute_features([], signaling=[shutil.copy(pcaps[1], tmp_path / "n.pcapng")])
    assert list(alone.features.index) == ["222010100001140"]
