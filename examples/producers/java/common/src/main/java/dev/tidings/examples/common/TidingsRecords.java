package dev.tidings.examples.common;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;

/** Builds the Kafka record of a loan decision: key = the borrower's user id, value = the event JSON. */
public final class TidingsRecords {
  public static final String EVENT_TYPE = "loan.decision";

  private TidingsRecords() {}

  public static ProducerRecord<String, String> loanDecision(ProducerOptions o, LoanDecisionEvent event) {
    // Key = user id: all of one borrower's events land on one partition, so they arrive in order.
    return new ProducerRecord<>(o.topic(), null, event.borrowerId(), event.toJson(), headers(o, event));
  }

  /**
   * Plain JSON: {@code content-type} and the informational {@code tidings-event-type}. CloudEvents 1.0
   * binary mode (Kafka protocol binding): the value stays the event, the attributes become
   * {@code ce_*} headers. Either way an optional W3C {@code traceparent} joins the producer's trace.
   */
  public static List<Header> headers(ProducerOptions o, LoanDecisionEvent event) {
    List<Header> h = new ArrayList<>();
    h.add(header("content-type", "application/json"));
    if (o.cloudEvents()) {
      h.add(header("ce_specversion", "1.0"));
      h.add(header("ce_id", event.eventId()));
      h.add(header("ce_source", o.source()));
      h.add(header("ce_type", EVENT_TYPE));
      h.add(header("ce_time", event.occurredAt()));
    } else {
      h.add(header("tidings-event-type", EVENT_TYPE));
    }
    if (o.traceparent() != null) h.add(header("traceparent", o.traceparent()));
    return h;
  }

  /** What the producers print: one JSON line a script can read. */
  public static String sentLine(String eventId, String topic, int partition, long offset) {
    return String.format(
        "{\"eventId\":\"%s\",\"topic\":\"%s\",\"partition\":%d,\"offset\":%d}", eventId, topic, partition, offset);
  }

  private static Header header(String name, String value) {
    return new RecordHeader(name, value.getBytes(StandardCharsets.UTF_8));
  }
}
