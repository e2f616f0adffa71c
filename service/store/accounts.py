"""Accounts of the web workbench: users (name, role, argon2 hash) and their login sessions.

Facts like the decisions: a user is disabled, never deleted (decisions name them in `by`). The
cookie holds a random token; only its sha256 is stored, so a copy of the database opens no session.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from .schema import users, web_sessions

ROLES = ("viewer", "editor")


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str  # "viewer" | "editor"
    password_hash: str
    disabled: bool
    created_at: datetime
    changed_at: datetime

    @property
    def may_edit(self) -> bool:
        return self.role == "editor" and not self.disabled


@dataclass(frozen=True)
class WebSession:
    user: User
    csrf_token: str
    expires_at: datetime


class DuplicateUser(ValueError):
    """A user of that name exists already."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Mixed into Store: users and web sessions."""

    engine: Engine

    def add_user(self, name: str, role: str, password_hash: str, now: datetime) -> User:
        values = dict(name=name, role=role, password_hash=password_hash, disabled=False, created_at=now,
                      changed_at=now)
        try:
            with self.engine.begin() as conn:
                new_id = conn.execute(insert(users).values(**values).returning(users.c.id)).scalar_one()
        except IntegrityError as err:
            raise DuplicateUser(name) from err
        return User(new_id, **values)  # type: ignore[arg-type]

    def users(self) -> list[User]:
        with self.engine.connect() as conn:
            return [User(**r._mapping) for r in conn.execute(select(users).order_by(users.c.name))]

    def user(self, name: str) -> User | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(users).where(users.c.name == name)).first()
        return User(**r._mapping) if r else None

    def update_user(self, name: str, now: datetime, *, disabled: bool | None = None,
                    password_hash: str | None = None) -> bool:
        """Disable a user or set a new password; either ends the user's sessions. False: no such user."""
        values: dict = {}
        if disabled is not None:
            values["disabled"] = disabled
        if password_hash is not None:
            values.update(password_hash=password_hash, changed_at=now)
        with self.engine.begin() as conn:
            found = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
            if found is None:
                return False
            conn.execute(update(users).where(users.c.id == found).values(**values))
            conn.execute(delete(web_sessions).where(web_sessions.c.user == found))
        return True

    def open_session(self, user: User, token: str, csrf_token: str, now: datetime, expires_at: datetime) -> None:
        """Keep a new login (the token's hash); sessions past their time are cleared on the way."""
        with self.engine.begin() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))
            conn.execute(insert(web_sessions).values(token_hash=token_hash(token), user=user.id,
                                                     csrf_token=csrf_token, created_at=now, expires_at=expires_at))

    def web_session(self, token: str, now: datetime) -> WebSession | None:
        """The live session of that cookie token with its (enabled) user; None when unknown or over."""
        query = (select(web_sessions.c.csrf_token, web_sessions.c.expires_at, users)
                 .join(users, users.c.id == web_sessions.c.user)
                 .where(web_sessions.c.token_hash == token_hash(token), web_sessions.c.expires_at > now,
                        users.c.disabled.is_(False)))
        with self.engine.connect() as conn:
            r = conn.execute(query).first()
        if r is None:
            return None
        fields = dict(r._mapping)
        csrf, expires = fields.pop("csrf_token"), fields.pop("expires_at")
        return WebSession(User(**fields), csrf, expires)

    def close_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == token_hash(token)))
