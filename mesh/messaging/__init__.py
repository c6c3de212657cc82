"""Events between services: outbox, inbox, relay, Kafka, dead letters, parked rows."""
