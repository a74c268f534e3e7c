package dev.tidings.examples.spring;

import dev.tidings.examples.common.LoanDecisionEvent;
import dev.tidings.examples.common.ProducerOptions;
import dev.tidings.examples.common.TidingsRecords;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.kafka.support.SendResult;

/**
 * Sends one loan decision to Tidings through Spring for Apache Kafka's {@link KafkaTemplate}. In a
 * Spring Boot service the template comes from auto-configuration instead (see README: the same
 * settings as {@code spring.kafka.producer.*} properties) and {@link LoanDecisionNotifier} is the part
 * to copy.
 */
public final class SpringLoanDecisionProducer {
  public static void main(String[] args) throws Exception {
    ProducerOptions o = ProducerOptions.parseOrExit(args, "//loans.example.com/spring-producer");
    try (var context = new AnnotationConfigApplicationContext()) {
      context.registerBean(ProducerOptions.class, () -> o);
      context.register(KafkaProducerConfig.class, LoanDecisionNotifier.class);
      context.refresh();
      LoanDecisionEvent event = LoanDecisionEvent.from(o);
      SendResult<String, String> sent = context.getBean(LoanDecisionNotifier.class).send(event);
      var md = sent.getRecordMetadata();
      System.out.println(TidingsRecords.sentLine(event.eventId(), md.topic(), md.partition(), md.offset()));
    }
  }
}
