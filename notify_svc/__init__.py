"""The notification service: tells customers what happened to their orders (issue #6).

Consumes order events, records one notification per (event, channel), and delivers them
"record, then send" through channels (email over SMTP today). See docs/notifications.md.
"""
