"""Federated averaging of the fault model: boxes fine-tune on their own data and send weight updates (never
data); an aggregator checks each update (CURVE identity, bounded fields and sizes, distance from the current
model), combines them robustly (trimmed mean by default, or median / FedAvg), versions the global model, and
boxes hot-swap each new version without a restart. The aggregation runs embedded or as a Flink job (same
operator)."""
