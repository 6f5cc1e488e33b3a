package rsu.flink;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.flink.api.common.eventtime.SerializableTimestampAssigner;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.lineage.DefaultKafkaDatasetIdentifier;
import org.apache.flink.connector.kafka.lineage.KafkaDatasetIdentifierProvider;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.sink.KafkaSinkBuilder;
import org.apache.flink.connector.kafka.sink.TopicSelector;
import org.apache.flink.connector.kafka.sink.TransactionNamingStrategy;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.DataStreamUtils;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.types.Row;

/**
 * The JVM plumbing of the Kafka-fed job, called from Python (rsu/pipeline/flink/kafka_job.py) through the
 * gateway: {@link #batches} between the KafkaSource and the Python operator, {@link #sink} after it.
 */
public final class KafkaJob {
    /** The key of every keyed step: {@code Row(<operator index>|<operator key>)}, as the Python operator keys. */
    public static final TypeInformation<Row> KEY = Types.ROW(Types.STRING);
    /** What the Python operator takes: {@code Row(key, batch bytes)}. */
    public static final TypeInformation<Row> BATCH =
            Types.ROW(Types.STRING, PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO);

    private KafkaJob() {}

    /** Route each record, key it and batch it per key on the watermark; keyed for the Python operator (no shuffle). */
    public static KeyedStream<Row, Row> batches(DataStream<byte[]> records, String routeSpec, int parallelism) {
        SingleOutputStreamOperator<Element> routed = records.flatMap(new RouteFunction(routeSpec))
                .returns(TypeInformation.of(Element.class)).name("route").uid("route");
        SingleOutputStreamOperator<Row> batched = routed.keyBy(new ElementKey(), KEY)
                .process(new OrderedBatcher(), BATCH).name("batch-on-watermark").uid("batch")
                .setParallelism(parallelism);
        return DataStreamUtils.reinterpretAsKeyedStream(batched, new BatchKey(), KEY);
    }

    /** Split the Python operator's output into result records, stamped with their event time, into {@code sink}. */
    public static void sink(DataStream<byte[]> results, KafkaSink<Result> sink, int parallelism) {
        results.flatMap(new ResultSplitter()).returns(TypeInformation.of(Result.class)).name("results").uid("results")
                .setParallelism(parallelism)
                .assignTimestampsAndWatermarks(WatermarkStrategy.<Result>noWatermarks().withTimestampAssigner(
                        new ResultTime())).name("result-time").uid("result-time").setParallelism(parallelism)
                .sinkTo(sink).name("kafka-results").uid("kafka-results").setParallelism(parallelism);
    }

    /**
     * The KafkaSink of results: topic and key per record (Kafka's partitioner hashes the key, so a key keeps one
     * partition and its order). {@code exactlyOnce}: a transaction per checkpoint, transactional ids pooled (no
     * probing of old ids on restart); else at least once (records visible at once; readers drop repeats by
     * key and seq). {@code topics}: every topic a result may go to (pooled transactional ids need the list).
     */
    public static KafkaSink<Result> kafkaSink(String bootstrap, boolean exactlyOnce, String transactionalIdPrefix,
                                              Map<String, String> properties, List<String> topics) {
        KafkaRecordSerializationSchema<Result> schema = KafkaRecordSerializationSchema.<Result>builder()
                .setTopicSelector(new ResultTopic(topics)).setKeySerializationSchema(new ResultKey())
                .setValueSerializationSchema(new ResultValue()).build();
        KafkaSinkBuilder<Result> b = KafkaSink.<Result>builder().setBootstrapServers(bootstrap)
                .setRecordSerializer(schema)
                .setDeliveryGuarantee(exactlyOnce ? DeliveryGuarantee.EXACTLY_ONCE : DeliveryGuarantee.AT_LEAST_ONCE);
        if (exactlyOnce) {
            b.setTransactionalIdPrefix(transactionalIdPrefix)
                    .setTransactionNamingStrategy(TransactionNamingStrategy.POOLING);
        }
        properties.forEach(b::setProperty);
        return b.build();
    }

    static final class ElementKey implements KeySelector<Element, Row> {
        private static final long serialVersionUID = 1L;

        @Override
        public Row getKey(Element e) {
            return Row.of(e.key);
        }
    }

    static final class BatchKey implements KeySelector<Row, Row> {
        private static final long serialVersionUID = 1L;

        @Override
        public Row getKey(Row r) {
            return Row.of(r.getField(0));
        }
    }

    static final class ResultTime implements SerializableTimestampAssigner<Result> {
        private static final long serialVersionUID = 1L;

        @Override
        public long extractTimestamp(Result r, long recordTimestamp) {
            return r.tMs;
        }
    }

    static final class ResultTopic implements TopicSelector<Result>, KafkaDatasetIdentifierProvider {
        private static final long serialVersionUID = 1L;
        private final ArrayList<String> topics;

        ResultTopic(List<String> topics) {
            this.topics = new ArrayList<>(topics);
        }

        @Override
        public Optional<DefaultKafkaDatasetIdentifier> getDatasetIdentifier() {
            return Optional.of(DefaultKafkaDatasetIdentifier.ofTopics(topics));
        }

        @Override
        public String apply(Result r) {
            return r.topic;
        }
    }

    static final class ResultKey implements SerializationSchema<Result> {
        private static final long serialVersionUID = 1L;

        @Override
        public byte[] serialize(Result r) {
            return r.key;
        }
    }

    static final class ResultValue implements SerializationSchema<Result> {
        private static final long serialVersionUID = 1L;

        @Override
        public byte[] serialize(Result r) {
            return r.value;
        }
    }
}
