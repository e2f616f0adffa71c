"""Outgoing stage: report states -> letters (receipts, reminders, digest), the sent log and the transports."""
