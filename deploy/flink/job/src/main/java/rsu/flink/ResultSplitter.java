package rsu.flink;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.functions.FlatMapFunction;
import org.apache.flink.util.Collector;

/**
 * The Python operator's output for one batch (all its results in one message) into result records. Each result:
 * topic (short length, UTF-8), key (short length, UTF-8), event time in ms (long), value (int length, bytes),
 * big-endian.
 */
public final class ResultSplitter implements FlatMapFunction<byte[], Result> {
    private static final long serialVersionUID = 1L;

    @Override
    public void flatMap(byte[] batch, Collector<Result> out) {
        ByteBuffer buf = ByteBuffer.wrap(batch);
        while (buf.hasRemaining()) {
            byte[] topic = new byte[buf.getShort() & 0xffff];
            buf.get(topic);
            byte[] key = new byte[buf.getShort() & 0xffff];
            buf.get(key);
            long tMs = buf.getLong();
            byte[] value = new byte[buf.getInt()];
            buf.get(value);
            out.collect(new Result(new String(topic, StandardCharsets.UTF_8), key, value, tMs));
        }
    }
}
