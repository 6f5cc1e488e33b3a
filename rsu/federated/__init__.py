"""Federated averaging of the fault model: boxes fine-tune on their own data and send weight updates (never
data); an aggregator averages them weighted by sample count (FedAvg), versions the global model, and boxes
hot-swap each new version without a restart. The aggregation runs embedded or as a Flink job (same operator)."""
