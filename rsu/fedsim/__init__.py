"""Tools around federated averaging of the fault model (not the box's runtime): per-box training data from the
plant simulator, fine-tuning (torch, the ``tools`` extra), scoring, and the three-box experiment. The runtime
parts (updates, aggregator, hot swap) are in :mod:`rsu.federated`."""
