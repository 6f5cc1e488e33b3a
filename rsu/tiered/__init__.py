"""Tiered inference: the box answers easy frames with its small detector and offloads hard ones (low
confidence, crowds, classes the bigger model settles) to an edge server running a larger model, over
ZeroMQ DEALER/ROUTER with a deadline; a late or missing answer falls back to the local result (counted)."""
