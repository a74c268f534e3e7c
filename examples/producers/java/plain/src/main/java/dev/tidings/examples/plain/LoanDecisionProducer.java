package dev.tidings.examples.plain;

import dev.tidings.examples.common.LoanDecisionEvent;
import dev.tidings.examples.common.ProducerOptions;
import dev.tidings.examples.common.TidingsRecords;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.serialization.StringSerializer;

/** Sends one loan decision to Tidings with the plain Apache Kafka client. */
public final class LoanDecisionProducer {
  private static final int ATTEMPTS = 3;

  public static void main(String[] args) throws Exception {
    ProducerOptions o = ProducerOptions.parseOrExit(args, "//loans.example.com/java-producer");
    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, o.brokers());
    props.put(ProducerConfig.CLIENT_ID_CONFIG, "loan-service");
    // acks=all + idempotence: the client's own retries never write a record twice
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);

    // Built once: a retry below resends this exact record, with the same eventId.
    LoanDecisionEvent event = LoanDecisionEvent.from(o);
    ProducerRecord<String, String> record = TidingsRecords.loanDecision(o, event);
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
      RecordMetadata sent = sendWithRetry(producer, record);
      System.out.println(TidingsRecords.sentLine(event.eventId(), sent.topic(), sent.partition(), sent.offset()));
    }
  }

  /**
   * The client already retries within delivery.timeout.ms; this covers an outage longer than that. Only
   * unavailability (a RetriableException) is worth retrying; anything else is a bug to surface.
   */
  static RecordMetadata sendWithRetry(KafkaProducer<String, String> producer, ProducerRecord<String, String> record)
      throws InterruptedException, ExecutionException {
    for (int attempt = 1; ; attempt++) {
      try {
        return producer.send(record).get();
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof RetriableException) || attempt == ATTEMPTS) throw e;
        System.err.println("send failed (" + e.getCause() + "), retrying with the same eventId");
        Thread.sleep(1000L * attempt);
      }
    }
  }
}
