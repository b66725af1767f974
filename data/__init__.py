"""simbox.data: the labelled network simulator, reference tables and the sample data set."""
