"""Small networking helpers shared by the box's request/reply services (tiered inference, federated averaging)."""
