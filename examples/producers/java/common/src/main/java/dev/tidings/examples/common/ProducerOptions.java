package dev.tidings.examples.common;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Command-line options shared by the Java producers, e.g.
 * {@code --borrower b-1042 --decision APPROVED --amount 50000 --cloudevents --traceparent 00-…-01}.
 *
 * <p>The event id is fixed here, once per event: every send attempt of this event reuses it, so the
 * dispatcher's dedupe (same id on the same topic within 24 h) turns any retry into one notification.
 * Pass {@code --event-id} to make it come from your domain (e.g. {@code loan-L-77-decision-3}).
 */
public record ProducerOptions(
    String brokers,
    String topic,
    String borrowerId,
    String loanId,
    String decision,
    Long amount,
    String currency,
    String locale,
    String eventId,
    boolean cloudEvents,
    String source,
    String traceparent) {

  public static final Set<String> DECISIONS = Set.of("APPROVED", "REJECTED", "NEEDS_INFO", "DISBURSED");
  private static final Set<String> FLAGS = Set.of("cloudevents");
  private static final Set<String> VALUES =
      Set.of("brokers", "topic", "borrower", "loan", "decision", "amount", "currency", "locale", "event-id",
          "source", "traceparent");

  /** parse(), or the usage error on stderr and exit code 64 (EX_USAGE): nothing is sent. */
  public static ProducerOptions parseOrExit(String[] args, String defaultSource) {
    try {
      return parse(args, defaultSource);
    } catch (IllegalArgumentException e) {
      System.err.println("usage error: " + e.getMessage());
      System.exit(64);
      throw e; // not reached
    }
  }

  /** Parses {@code --name value}, {@code --name=value} and {@code --cloudevents}; throws IllegalArgumentException. */
  public static ProducerOptions parse(String[] args, String defaultSource) {
    Map<String, String> v = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (!arg.startsWith("--")) throw new IllegalArgumentException("unexpected argument " + arg);
      String name = arg.substring(2);
      String value = null;
      int eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.substring(eq + 1);
        name = name.substring(0, eq);
      }
      if (FLAGS.contains(name)) {
        v.put(name, "true");
      } else if (VALUES.contains(name)) {
        if (value == null) {
          if (i + 1 >= args.length) throw new IllegalArgumentException("--" + name + " needs a value");
          value = args[++i];
        }
        v.put(name, value);
      } else {
        throw new IllegalArgumentException("unknown option --" + name);
      }
    }
    String borrower = v.get("borrower");
    if (borrower == null || borrower.isEmpty()) throw new IllegalArgumentException("--borrower is required");
    String decision = v.getOrDefault("decision", "APPROVED");
    if (!DECISIONS.contains(decision)) {
      throw new IllegalArgumentException("--decision must be one of " + DECISIONS);
    }
    String env = System.getenv("KAFKA_BROKERS");
    return new ProducerOptions(
        v.getOrDefault("brokers", env != null && !env.isEmpty() ? env : "localhost:9092"),
        v.getOrDefault("topic", "loan.decisions"),
        borrower,
        v.getOrDefault("loan", "L-77"),
        decision,
        v.containsKey("amount") ? Long.valueOf(v.get("amount")) : null,
        v.getOrDefault("currency", "BDT"),
        v.get("locale"),
        v.getOrDefault("event-id", UUID.randomUUID().toString()),
        v.containsKey("cloudevents"),
        v.getOrDefault("source", defaultSource),
        v.get("traceparent"));
  }
}
