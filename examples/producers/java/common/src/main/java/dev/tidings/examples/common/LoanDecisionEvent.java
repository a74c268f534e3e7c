package dev.tidings.examples.common;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;

/**
 * The value of a {@code loan.decisions} record (docs/schemas/loan-decision-event.json). Absent optional
 * fields are left out of the JSON.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record LoanDecisionEvent(
    String eventId,
    String occurredAt,
    String borrowerId,
    String loanId,
    String decision,
    Money amount,
    String locale) {

  public record Money(long value, String currency) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  public static LoanDecisionEvent from(ProducerOptions o) {
    return new LoanDecisionEvent(
        o.eventId(),
        Instant.now().toString(), // RFC 3339 in UTC, e.g. 2026-11-24T10:00:00.123Z
        o.borrowerId(),
        o.loanId(),
        o.decision(),
        o.amount() == null ? null : new Money(o.amount(), o.currency()),
        o.locale());
  }

  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e); // records of strings and numbers always serialize
    }
  }
}
