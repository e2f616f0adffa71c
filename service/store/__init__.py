"""Store: typed records <-> database tables, raw bytes <-> the archive; the only SQLAlchemy imports."""
from __future__ import annotations

from .queries import (  # noqa: F401 - the package's face
    Store,
    database_error,
    make_engine,
    restrict_permissions,
)
