// Reads a Kafka topic from its beginning to the end it had at start with the official CloudEvents
// Java SDK's Kafka deserializer, as a data team's Java consumer would, and prints one JSON line per
// event. A record the SDK cannot turn into a CloudEvent ends the run with exit status 1 and the
// SDK's reason on stderr: it is a record the data teams' consumers could not read either.
//
// Run as a single source file (Java 17, as the broker), on the jars of tests/interop/java/pom.xml:
//   java -cp '.cache/cloudevents-java-<POM digest>/*' ReadCloudEvents.java <bootstrap> <topic>
// (tests/support/cloudevents_java.py resolves the jars and runs it).

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cloudevents.CloudEvent;
import io.cloudevents.kafka.CloudEventDeserializer;
import java.time.Duration;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.serialization.StringDeserializer;

public class ReadCloudEvents {
    private static final Duration READ_FOR_AT_MOST = Duration.ofSeconds(60);
    private static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: ReadCloudEvents <bootstrap> <topic>");
            System.exit(2);
        }
        Properties config = new Properties();
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, CloudEventDeserializer.class);
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        try (KafkaConsumer<String, CloudEvent> consumer = new KafkaConsumer<>(config)) {
            readToEnd(consumer, args[1]);
        } catch (RecordDeserializationException exc) {
            Throwable reason = exc.getCause() != null ? exc.getCause() : exc;
            System.err.printf(
                "not a CloudEvent: %s offset %d: %s%n", exc.topicPartition(), exc.offset(), reason);
            System.exit(1);
        }
    }

    private static void readToEnd(KafkaConsumer<String, CloudEvent> consumer, String topic)
            throws Exception {
        List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
            .map(info -> new TopicPartition(topic, info.partition()))
            .toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
        long deadline = System.nanoTime() + READ_FOR_AT_MOST.toNanos();
        while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
            if (System.nanoTime() > deadline) {
                System.err.println("timed out before the end of " + topic);
                System.exit(1);
            }
            for (ConsumerRecord<String, CloudEvent> record : consumer.poll(Duration.ofMillis(200))) {
                System.out.println(JSON.writeValueAsString(line(record)));
            }
        }
    }

    private static ObjectNode line(ConsumerRecord<String, CloudEvent> record) throws Exception {
        CloudEvent event = record.value();
        if (event == null) {
            throw new IllegalStateException("no event at offset " + record.offset());
        }
        ObjectNode line = JSON.createObjectNode();
        line.put("key", record.key());
        line.put("specversion", event.getSpecVersion().toString());
        line.put("id", event.getId());
        line.put("type", event.getType());
        line.put("source", event.getSource().toString());
        line.put("subject", event.getSubject());
        line.put("time", event.getTime() == null
            ? null : DateTimeFormatter.ISO_INSTANT.format(event.getTime()));
        line.put("datacontenttype", event.getDataContentType());
        ObjectNode extensions = line.putObject("extensions");
        for (String name : event.getExtensionNames()) {
            extensions.put(name, String.valueOf(event.getExtension(name)));
        }
        line.set("data", event.getData() == null ? null : JSON.readTree(event.getData().toBytes()));
        return line;
    }
}
