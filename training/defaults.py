"""Defaults of training shared by the library and ``simbox train`` (a leaf: no pandas, so the
command line reads them without importing the training stack)."""

#: training weight of a seized (labelled) SIM, against 1 per simulated SIM
SEIZURE_WEIGHT = 5.0
#: what is done with unlabelled SIMs (see simbox.training.dataset.UNLABELLED_POLICIES)
UNLABELLED = "pu"
