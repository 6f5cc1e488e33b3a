package rsu.flink;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Which operators take which product, and what each keys on. Written by the Python side from the operators
 * (rsu/pipeline/flink/routes.py), one route a line, tab-separated:
 * {@code <schema id> <operator index> <rank> field|const <envelope field or constant key>}.
 */
public final class Routes implements Serializable {
    private static final long serialVersionUID = 1L;

    /** One operator a product of a schema goes to. */
    public static final class Route implements Serializable {
        private static final long serialVersionUID = 1L;
        public final int operator;
        public final int rank;
        /** The envelope field holding the key, or null when the key is {@link #constant}. */
        public final String field;
        public final String constant;

        Route(int operator, int rank, String field, String constant) {
            this.operator = operator;
            this.rank = rank;
            this.field = field;
            this.constant = constant;
        }
    }

    private final Map<String, Route[]> bySchema;
    private final String[] fields;

    private Routes(Map<String, Route[]> bySchema, String[] fields) {
        this.bySchema = bySchema;
        this.fields = fields;
    }

    /** Parse the spec; IllegalArgumentException naming the line that is wrong. */
    public static Routes parse(String spec) {
        Map<String, List<Route>> lists = new HashMap<>();
        List<String> fields = new ArrayList<>();
        String[] lines = spec.split("\n");
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty()) {
                continue;
            }
            String[] parts = line.split("\t");
            if (parts.length != 5 || !(parts[3].equals("field") || parts[3].equals("const"))) {
                throw new IllegalArgumentException("route spec line " + (i + 1) + ": expected "
                        + "'<schema>\\t<operator>\\t<rank>\\tfield|const\\t<value>', got '" + line + "'");
            }
            boolean byField = parts[3].equals("field");
            Route r = new Route(Integer.parseInt(parts[1]), Integer.parseInt(parts[2]), byField ? parts[4] : null,
                    byField ? null : parts[4]);
            lists.computeIfAbsent(parts[0], k -> new ArrayList<>()).add(r);
            if (byField && !fields.contains(parts[4])) {
                fields.add(parts[4]);
            }
        }
        Map<String, Route[]> out = new HashMap<>();
        lists.forEach((k, v) -> out.put(k, v.toArray(new Route[0])));
        return new Routes(out, fields.toArray(new String[0]));
    }

    /** The routes of a schema (null: no operator takes it). */
    public Route[] of(String schema) {
        return bySchema.get(schema);
    }

    /** Envelope fields some route keys on. */
    public String[] keyFields() {
        return fields;
    }
}
