"""Email-ingestion service for reports that many parties send to one office mailbox."""
