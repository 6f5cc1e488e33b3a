package rsu.flink;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;

/**
 * Holds each key's elements until the watermark passes them, then hands all that one watermark advance released
 * to the next operator as one batch, in event-time order: {@code Row(key, bytes)}, the bytes holding the
 * watermark (long), the key (short length, UTF-8), the count (int) and each element's envelope (int length,
 * bytes), big-endian.
 *
 * <p>An element's release time is its event time rounded up to the millisecond (Flink's timer resolution), as
 * the Python operator's own timers. One event-time timer per key, at the earliest element held. Ties at the
 * same event time go in kind order (detections, radar, readings ...), then by source, as in the embedded runner.
 */
public final class OrderedBatcher extends KeyedProcessFunction<Row, Element, Row> {
    private static final long serialVersionUID = 1L;
    private static final Comparator<Element> ORDER = Comparator.<Element>comparingLong(e -> e.tEventNs)
            .thenComparingInt(e -> e.rank).thenComparing(e -> e.source);

    private transient ListState<Element> pending;
    private transient ValueState<Long> timer;

    static long releaseMs(long tEventNs) {
        return Math.floorDiv(tEventNs + 999_999L, 1_000_000L);
    }

    @Override
    public void open(OpenContext context) {
        pending = getRuntimeContext().getListState(
                new ListStateDescriptor<>("pending", TypeInformation.of(Element.class)));
        timer = getRuntimeContext().getState(new ValueStateDescriptor<>("timer", Types.LONG));
    }

    @Override
    public void processElement(Element e, Context ctx, Collector<Row> out) throws Exception {
        pending.add(e);
        long due = releaseMs(e.tEventNs);
        Long current = timer.value();
        if (current == null || due < current) {
            if (current != null) {
                ctx.timerService().deleteEventTimeTimer(current);
            }
            ctx.timerService().registerEventTimeTimer(due);
            timer.update(due);
        }
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Row> out) throws Exception {
        long watermark = ctx.timerService().currentWatermark();
        List<Element> released = new ArrayList<>();
        List<Element> kept = new ArrayList<>();
        long next = Long.MAX_VALUE;
        Iterable<Element> held = pending.get();
        if (held != null) {
            for (Element e : held) {
                long due = releaseMs(e.tEventNs);
                if (due <= watermark) {
                    released.add(e);
                } else {
                    kept.add(e);
                    next = Math.min(next, due);
                }
            }
        }
        if (kept.isEmpty()) {
            pending.clear();
            timer.clear();
        } else {
            pending.update(kept);
            ctx.timerService().registerEventTimeTimer(next);
            timer.update(next);
        }
        if (released.isEmpty()) {
            return;
        }
        released.sort(ORDER);
        byte[] key = released.get(0).key.getBytes(StandardCharsets.UTF_8);
        int size = 14 + key.length;
        for (Element e : released) {
            size += 4 + e.json.length;
        }
        ByteBuffer buf = ByteBuffer.allocate(size);
        buf.putLong(watermark).putShort((short) key.length).put(key).putInt(released.size());
        for (Element e : released) {
            buf.putInt(e.json.length).put(e.json);
        }
        out.collect(Row.of(released.get(0).key, buf.array()));
    }
}
