package rsu.flink;

/** One result record for the KafkaSink. */
public class Result {
    public String topic;
    public byte[] key;
    public byte[] value;
    /** The product's event time (ms): the Kafka record timestamp. */
    public long tMs;

    public Result() {}

    public Result(String topic, byte[] key, byte[] value, long tMs) {
        this.topic = topic;
        this.key = key;
        this.value = value;
        this.tMs = tMs;
    }
}
