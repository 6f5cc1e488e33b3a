package rsu.flink;

import java.util.HashMap;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFlatMapFunction;
import org.apache.flink.metrics.Counter;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.util.Collector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A product record (v1 JSON envelope) to one {@link Element} per operator that takes it, keyed as that operator
 * keys. Only the envelope's top level is read (schema, t_event, source and the key fields), by a streaming
 * parser; the payload goes on as bytes. A record that is not an envelope, or lacks a field its route needs, is
 * counted ({@code rsuBadRecords}) and skipped; the first ones are logged with the reason.
 */
public final class RouteFunction extends RichFlatMapFunction<byte[], Element> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(RouteFunction.class);

    private final String spec;
    private transient Routes routes;
    private transient JsonFactory json;
    private transient Counter bad;
    private transient Counter unrouted;
    private transient long badSeen;

    public RouteFunction(String spec) {
        this.spec = spec;
        Routes.parse(spec); // fail at build time, not on the cluster
    }

    @Override
    public void open(OpenContext context) {
        routes = Routes.parse(spec);
        json = new JsonFactory();
        bad = getRuntimeContext().getMetricGroup().counter("rsuBadRecords");
        unrouted = getRuntimeContext().getMetricGroup().counter("rsuUnroutedRecords");
    }

    @Override
    public void flatMap(byte[] value, Collector<Element> out) {
        Map<String, String> head = new HashMap<>(8);
        long tEvent;
        try {
            tEvent = readHead(value, head);
        } catch (Exception e) {
            skip("not a JSON envelope (" + e.getMessage() + ")");
            return;
        }
        String schema = head.get("schema");
        if (schema == null || tEvent == Long.MIN_VALUE) {
            skip("no " + (schema == null ? "schema" : "t_event") + " in the envelope");
            return;
        }
        Routes.Route[] rs = routes.of(schema);
        if (rs == null) {
            unrouted.inc();
            return;
        }
        String source = head.getOrDefault("source", "");
        for (Routes.Route r : rs) {
            String k = r.field == null ? r.constant : head.get(r.field);
            if (k == null) {
                skip(schema + " without the field '" + r.field + "' its operator keys on");
                continue;
            }
            out.collect(new Element(r.operator + "|" + k, tEvent, r.rank, source, value));
        }
    }

    private void skip(String why) {
        bad.inc();
        badSeen++;
        if (badSeen <= 5 || badSeen % 1000 == 0) {
            LOG.warn("skipped a product record ({} so far): {}", badSeen, why);
        }
    }

    /** Top-level string and integer fields the routes need into {@code head}; returns t_event (MIN_VALUE if absent). */
    private long readHead(byte[] value, Map<String, String> head) throws java.io.IOException {
        long tEvent = Long.MIN_VALUE;
        String[] keyFields = routes.keyFields();
        try (JsonParser p = json.createParser(value)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new java.io.IOException("not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken t = p.nextToken();
                if (name.equals("t_event") && t == JsonToken.VALUE_NUMBER_INT) {
                    tEvent = p.getLongValue();
                } else if (t == JsonToken.VALUE_STRING && wanted(name, keyFields)) {
                    head.put(name, p.getText());
                } else if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                    p.skipChildren();
                }
            }
        }
        return tEvent;
    }

    private static boolean wanted(String name, String[] keyFields) {
        if (name.equals("schema") || name.equals("source")) {
            return true;
        }
        for (String f : keyFields) {
            if (f.equals(name)) {
                return true;
            }
        }
        return false;
    }
}
