"""simbox.training: labels, training sets, model fitting, calibration, evaluation."""
