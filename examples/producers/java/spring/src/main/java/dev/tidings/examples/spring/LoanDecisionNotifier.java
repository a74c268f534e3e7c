package dev.tidings.examples.spring;

import dev.tidings.examples.common.LoanDecisionEvent;
import dev.tidings.examples.common.ProducerOptions;
import dev.tidings.examples.common.TidingsRecords;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RetriableException;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.kafka.support.SendResult;
import org.springframework.stereotype.Component;

/** Publishes loan decisions for Tidings; a service calls send() when a decision is made. */
@Component
public class LoanDecisionNotifier {
  private static final int ATTEMPTS = 3;
  private final KafkaTemplate<String, String> template;
  private final ProducerOptions options;

  public LoanDecisionNotifier(KafkaTemplate<String, String> template, ProducerOptions options) {
    this.template = template;
    this.options = options;
  }

  /**
   * Sends and waits for all in-sync replicas. The record (and so its eventId) is built once: a retry
   * after a RetriableException (the cluster was unavailable) resends the same eventId, which the
   * dispatcher dedupes. Any other failure is not worth retrying and is thrown.
   */
  public SendResult<String, String> send(LoanDecisionEvent event) throws InterruptedException, ExecutionException {
    ProducerRecord<String, String> record = TidingsRecords.loanDecision(options, event);
    for (int attempt = 1; ; attempt++) {
      try {
        return template.send(record).get();
      } catch (ExecutionException e) {
        Throwable cause = e.getCause() instanceof org.springframework.kafka.KafkaException k && k.getCause() != null
            ? k.getCause()
            : e.getCause();
        if (!(cause instanceof RetriableException) || attempt == ATTEMPTS) throw e;
        System.err.println("send failed (" + cause + "), retrying with the same eventId");
        Thread.sleep(1000L * attempt);
      }
    }
  }
}
