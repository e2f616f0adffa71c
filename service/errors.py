"""Errors the service raises (bad *input* is never an exception: it is a model.Problem).

    ServiceError
    ├── ConfigError   wrong config file, env or secret: fail at start, name key and reason
    ├── SourceError   the mailbox cannot be read
    │   ├── MailboxLoginError   the server refused the login (ingest/imap_session.py)
    │   ├── MailboxUnavailable  no connection, or it dropped (ingest/imap_session.py)
    │   └── LoginBackedOff      a refused login waits before the next try (ingest/login_backoff.py)
    ├── SendError     an email cannot be sent (refused for this email: not retried by itself)
    │   └── SendDeferred  not sent now for a reason outside the email (server unreachable, circuit
    │                     open, batch out of time, disk full): sent again at the next run
    ├── LockError     another worker holds the database (store/lock.py)
    └── SchemaError   the database schema cannot be used or changed safely (store/migrations)

The subclasses outside this module live beside the stage that raises them.
"""


class ServiceError(Exception):
    """Base of the errors the CLI reports as one line and a non-zero exit."""


class ConfigError(ServiceError):
    pass


class SourceError(ServiceError):
    pass


class SendError(ServiceError):
    pass


class SendDeferred(SendError):
    pass
