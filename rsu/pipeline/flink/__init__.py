"""The ``flink`` runner: the same operators as a PyFlink 2.3 DataStream job (extra ``rsu[flink]``)."""
