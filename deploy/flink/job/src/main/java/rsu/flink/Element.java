package rsu.flink;

/** One product routed to one operator: the key it is routed under and what orders it within that key. */
public class Element {
    /** {@code <operator index>|<operator key>}. */
    public String key;
    /** The product's event time (ns, the envelope's {@code t_event}). */
    public long tEventNs;
    /** Order of product kinds at the same event time (detections, radar, readings, others). */
    public int rank;
    /** The product's source id: the last tie-breaker. */
    public String source;
    /** The v1 JSON envelope as it came from Kafka. */
    public byte[] json;

    public Element() {}

    public Element(String key, long tEventNs, int rank, String source, byte[] json) {
        this.key = key;
        this.tEventNs = tEventNs;
        this.rank = rank;
        this.source = source;
        this.json = json;
    }
}
