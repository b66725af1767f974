import numpy as np
import pandas as pd

from simbox.training.plots import (plot_calibration, plot_importances, plot_pr_curves,
                                   write_report)


def test_plots_and_report(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.choice(["simbox", "cardfarm", "legit"], 300, p=[0.2, 0.1, 0.7])
    raw = rng.random((300, 3)) + np.stack([labels == c for c in ("simbox", "cardfarm", "legit")], 1)
    proba = raw / raw.sum(axis=1, keepdims=True)
    plot_pr_curves(tmp_path / "pr_curves.png", labels, proba, threshold=0.5, rules_point=(0.5, 0.9))
    plot_calibration(tmp_path / "calibration.png", labels, proba)
    imp = pd.DataFrame({"importance": [0.3, 0.1], "std": [0.01, 0.02]}, index=["a", "b"])
    plot_importances(tmp_path / "importances.png", imp)
    for p in ("pr_curves.png", "calibration.png", "importances.png"):
        assert (tmp_path / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = {"classes": ["simbox", "cardfarm", "legit"],
            "threshold": {"value": 0.5, "target_precision": 0.995, "ci": [0.4, 0.6]},
            "metrics": {"model": {"per_sim": {"precision": 0.99, "precision_ci": [0.98, 1.0],
                                              "recall": 0.9, "missed": 3},
                                  "recall_by_kind": {"plain": {"sims": 4, "recall": 0.5}}}}}
    page = write_report(tmp_path, card).read_text()
    assert page.count("data:image/png;base64,") == 3
    assert "0.9900 [0.9800, 1.0000]" in page and "<td>plain</td>" in page
    assert "cannot run code when loaded" in page


def test_report_page_escapes_the_card(tmp_path):
    card = {"classes": ["simbox", "cardfarm", "legit"], "threshold": {"value": 0.5},
            "warnings": ["<script>x</script> few labels"],
            "training_data": {"sims": 10, "seizure_weight": 1.0,
                              "simulated": [{"sims": 1200, "source": "<b>sim</b>", "train_weight": 0.5}]},
            "unlabelled": {"policy": "legit", "pu": {"method": "spy & co", "excluded": 1200,
                                                     "unlabelled": 5000}},
            "metrics": {}}
    page = write_report(tmp_path, card).read_text()
    assert "<script" not in page and "<h2>Warnings</h2><ul>\n<li>&lt;script&gt;x&lt;/script&gt; few labels" in page
    assert ("<p>Mix: seized SIMs weigh 1.0;\n1,200 simulated SIMs (&lt;b&gt;sim&lt;/b&gt;, weight 0.5).\n"
            " Positive-unlabelled: spy &amp; co;\n1,200 of 5,000 unlabelled SIMs left out.</p>") in page
