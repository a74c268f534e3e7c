// A Tidings producer for Go backends with franz-go: sends one loan decision to `loan.decisions`, keyed by
// the borrower's user id, as plain JSON or in CloudEvents binary mode, with an optional W3C traceparent.
//
//	go run . --borrower b-1042 --decision APPROVED --amount 50000 [--cloudevents] [--traceparent 00-…-01]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// LoanDecisionEvent is the value of a loan.decisions record (docs/schemas/loan-decision-event.json).
type LoanDecisionEvent struct {
	EventID    string `json:"eventId"`
	OccurredAt string `json:"occurredAt"`
	BorrowerID string `json:"borrowerId"`
	LoanID     string `json:"loanId"`
	Decision   string `json:"decision"`
	Amount     *Money `json:"amount,omitempty"`
	Locale     string `json:"locale,omitempty"`
}

// Money is an amount in an ISO 4217 currency.
type Money struct {
	Value    int64  `json:"value"`
	Currency string `json:"currency"`
}

const eventType = "loan.decision"

var decisions = []string{"APPROVED", "REJECTED", "NEEDS_INFO", "DISBURSED"}

func main() {
	brokers := flag.String("brokers", envOr("KAFKA_BROKERS", "localhost:9092"), "comma-separated host:port list")
	topic := flag.String("topic", "loan.decisions", "Kafka topic")
	borrower := flag.String("borrower", "", "the borrower's user id (required; also the Kafka key)")
	loan := flag.String("loan", "L-77", "loan id")
	decision := flag.String("decision", "APPROVED", strings.Join(decisions, ", "))
	amount := flag.Int64("amount", 0, "amount (0 = none)")
	currency := flag.String("currency", "BDT", "ISO 4217 currency of the amount")
	locale := flag.String("locale", "", "en or bn (default en)")
	eventID := flag.String("event-id", "", "event id (default: a new UUID); reuse it to resend the same event")
	cloudEvents := flag.Bool("cloudevents", false, "CloudEvents 1.0 binary mode (ce_* headers)")
	source := flag.String("source", "//loans.example.com/go-producer", "CloudEvents source")
	traceparent := flag.String("traceparent", "", "W3C traceparent header to send")
	flag.Parse()
	if *borrower == "" || !slices.Contains(decisions, *decision) {
		fmt.Fprintln(os.Stderr, "usage error: --borrower is required and --decision must be one of", decisions)
		os.Exit(64)
	}

	// The event id is fixed once, before any attempt: every retry resends it, and the dispatcher's dedupe
	// (same id on the same topic within 24 h) turns retries into one notification.
	if *eventID == "" {
		*eventID = uuid.NewString()
	}
	event := LoanDecisionEvent{
		EventID:    *eventID,
		OccurredAt: time.Now().UTC().Format(time.RFC3339Nano),
		BorrowerID: *borrower,
		LoanID:     *loan,
		Decision:   *decision,
		Locale:     *locale,
	}
	if *amount != 0 {
		event.Amount = &Money{Value: *amount, Currency: *currency}
	}
	value, err := json.Marshal(event)
	if err != nil {
		fail(err)
	}
	record := &kgo.Record{
		Topic:   *topic,
		Key:     []byte(event.BorrowerID), // per-user order: all of a borrower's events on one partition
		Value:   value,
		Headers: headers(event, *cloudEvents, *source, *traceparent),
	}

	client, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.ClientID("loan-service"),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent by default in franz-go: client retries never duplicate
		kgo.RecordDeliveryTimeout(30*time.Second),
		// the dispatcher (kafkajs) reads none, gzip and snappy (franz-go's default), not lz4 or zstd;
		// gzip here works with every consumer.
		kgo.ProducerBatchCompression(kgo.GzipCompression()),
	)
	if err != nil {
		fail(err)
	}
	defer client.Close()

	sent, err := produceWithRetry(client, record)
	if err != nil {
		fail(err)
	}
	out, _ := json.Marshal(map[string]any{
		"eventId": event.EventID, "topic": sent.Topic, "partition": sent.Partition, "offset": sent.Offset,
	})
	fmt.Println(string(out))
}

// headers: plain JSON gets content-type and the informational tidings-event-type; CloudEvents binary mode
// keeps the event as the value and moves its attributes to ce_* headers.
func headers(e LoanDecisionEvent, cloudEvents bool, source, traceparent string) []kgo.RecordHeader {
	h := []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/json")}}
	if cloudEvents {
		h = append(h,
			kgo.RecordHeader{Key: "ce_specversion", Value: []byte("1.0")},
			kgo.RecordHeader{Key: "ce_id", Value: []byte(e.EventID)},
			kgo.RecordHeader{Key: "ce_source", Value: []byte(source)},
			kgo.RecordHeader{Key: "ce_type", Value: []byte(eventType)},
			kgo.RecordHeader{Key: "ce_time", Value: []byte(e.OccurredAt)},
		)
	} else {
		h = append(h, kgo.RecordHeader{Key: "tidings-event-type", Value: []byte(eventType)})
	}
	if traceparent != "" {
		h = append(h, kgo.RecordHeader{Key: "traceparent", Value: []byte(traceparent)})
	}
	return h
}

// produceWithRetry resends the same record (same event id) when the cluster was unavailable for longer
// than the client's own delivery timeout. Other errors are not worth retrying.
func produceWithRetry(client *kgo.Client, record *kgo.Record) (*kgo.Record, error) {
	const attempts = 3
	for attempt := 1; ; attempt++ {
		r := *record // a fresh copy: franz-go fills partition and offset in the record it is given
		err := client.ProduceSync(context.Background(), &r).FirstErr()
		if err == nil {
			return &r, nil
		}
		if !retriable(err) || attempt == attempts {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "send failed (%v), retrying with the same eventId\n", err)
		time.Sleep(time.Duration(attempt) * time.Second)
	}
}

func retriable(err error) bool {
	return kerr.IsRetriable(err) || errors.Is(err, kgo.ErrRecordTimeout) || errors.Is(err, context.DeadlineExceeded)
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}
