"""Kafka for scale-out: the pinned broker jars (:mod:`rsu.kafka.jars`) and a single-node KRaft broker on
loopback (:mod:`rsu.kafka.broker`) for the demo and the tests. The box's producer is
:mod:`rsu.publish.kafka_output`; docs/scale-out.md has the commands."""
