"""Core types of the box shared by every runtime layer: envelopes and lanes, run statistics, clocks and the
service lifecycle. Imports only the SDK and the standard library (plus numpy), never another ``rsu`` package."""
