"""Defaults of training shared by the library and ``simbox train`` (a leaf: no pandas, so the
command line reads them without importing the training stack)."""

#: training weight of a seized (labelled) SIM, against 1 per simulated SIM
SEIZURE_WEIGHT = 5.0
#: what is done with unlabelled SIMs (see simbox.training.dataset.UNLABELLED_POLICIES)
UNLABELLED = "pu"
#: no legitimate population group (call centres, desk gateways, IoT fleets, ...) of the
#: simulated knowledge may have a higher weighted false-positive rate out of fold
MAX_GROUP_FPR = 1e-3
#: refit once per fraud kind without it (the card's kinds_absent_from_training): a
#: diagnostic of the simulated knowledge, off by default (9 refits: 40% of the time of a
#: 50k-subscriber training beside the knowledge); the default model's build turns it on
KIND_HOLDOUT = False
