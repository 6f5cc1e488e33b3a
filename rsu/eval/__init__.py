"""Scoring a run against ground truth: tracking (MOTA, IDF1, RMSE) and fault alarms (precision, recall, lead time)."""
