// Produces records exactly as given, with what only the Java client sends easily: header values that
// are null (`new RecordHeader(name, null)`), repeated header names, and arbitrary bytes anywhere.
// Run from source (JDK 11+ single-file programs) with the Kafka jars the test launcher caches:
//   java -cp '<kafka libs>/*' RawProducer.java <bootstrap servers> [<compression.type>]
// stdin, one record per line, tab-separated, every field base64 (or `-` for null):
//   <topic>\t<key>\t<value>[\t<header name>:<header value>]...
// stdout: `ok <partition> <offset>` per record, in input order, once the broker acknowledged it.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class RawProducer {
  static byte[] field(String s) {
    return s.equals("-") ? null : Base64.getDecoder().decode(s);
  }

  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put("bootstrap.servers", args[0]);
    props.put("acks", "all");
    if (args.length > 1) props.put("compression.type", args[1]);
    props.put("enable.idempotence", "true");
    props.put("max.request.size", String.valueOf(16 * 1024 * 1024));
    props.put("key.serializer", ByteArraySerializer.class.getName());
    props.put("value.serializer", ByteArraySerializer.class.getName());
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      List<Future<RecordMetadata>> sent = new ArrayList<>();
      String line;
      while ((line = in.readLine()) != null) {
        if (line.isEmpty()) continue;
        String[] parts = line.split("\t", -1);
        ProducerRecord<byte[], byte[]> record =
            new ProducerRecord<>(new String(field(parts[0]), StandardCharsets.UTF_8), field(parts[1]), field(parts[2]));
        for (int i = 3; i < parts.length; i++) {
          int eq = parts[i].indexOf(':');
          byte[] name = field(parts[i].substring(0, eq));
          record.headers().add(new RecordHeader(new String(name, StandardCharsets.UTF_8), field(parts[i].substring(eq + 1))));
        }
        sent.add(producer.send(record));
      }
      producer.flush();
      StringBuilder out = new StringBuilder();
      for (Future<RecordMetadata> f : sent) {
        RecordMetadata m = f.get();
        out.append("ok ").append(m.partition()).append(' ').append(m.offset()).append('\n');
      }
      System.out.print(out);
    }
  }
}
