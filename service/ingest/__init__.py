"""Ingest stage: mail in (folder or IMAP) -> archived -> derived in bounded worker processes."""
