"""Health: what a snapshot of the store says about the last polls and sends + thresholds -> reasons to
fail a check.

`status --check` prints the reasons and exits non-zero when there are any (cron, systemd, Docker).
Both steps are pure: health_values reads the snapshot, health_problems judges it at `now`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .config import Config
from .model import Snapshot

FINISHED = frozenset({"sent", "failed", "retry"})  # "sending"/"stale" say nothing about the server
FAILED = frozenset({"failed", "retry"})


@dataclass(frozen=True)
class HealthValues:
    last_poll_ok: datetime | None
    last_poll_error: tuple[str, datetime] | None
    recent_sends: tuple[tuple[str, str], ...]  # (status, error) of finished sends, newest first
    reminders_held: str = ""  # why reminders are held (mailbox not read recently), "" when not


def health_values(snapshot: Snapshot, sends: int) -> HealthValues:
    """The inputs of the check: health table, and the newest `sends` finished sends of the sent log."""
    ok, error, held = (snapshot.health_of(key) for key in ("poll_ok", "poll_error", "reminders_held"))
    finished = [r for r in snapshot.sent if r.status in FINISHED]
    finished.sort(key=lambda r: r.updated_at, reverse=True)
    return HealthValues(last_poll_ok=ok[1] if ok else None, last_poll_error=error,
                        recent_sends=tuple((r.status, r.error) for r in finished[:sends]),
                        reminders_held=held[0] if held else "")


def health_problems(config: Config, values: HealthValues, now: datetime) -> list[str]:
    """Reasons the service is unhealthy at `now`; empty when healthy."""
    held = [f"催报提醒暂缓发出 (reminders held): {values.reminders_held}"] if values.reminders_held else []
    return [*_poll_problems(config, values, now), *held, *_send_problems(config, values)]


def _poll_problems(config: Config, values: HealthValues, now: datetime) -> list[str]:
    limit = config.health.max_poll_age_minutes
    found = []
    ok, error = values.last_poll_ok, values.last_poll_error
    if error is not None and (ok is None or error[1] > ok):
        found.append(f"邮箱收取失败 (mailbox poll failing since {_local(error[1], config)}): {error[0]}")
    if ok is None:
        found.append("尚无成功的邮箱收取 (no successful mailbox poll yet: is `run` running?)")
    elif (age := (now - ok).total_seconds() / 60) > limit:
        found.append(f"邮箱已 {age:.0f} 分钟未成功收取 (last successful poll {_local(ok, config)}, "
                     f"{age:.0f} min ago; limit {limit:g} min)")
    return found


def _send_problems(config: Config, values: HealthValues) -> list[str]:
    limit = config.health.max_failed_sends
    streak = 0
    for status, _ in values.recent_sends:
        if status not in FAILED:
            break
        streak += 1
    if streak < limit:
        return []
    last_error = values.recent_sends[0][1]
    return [f"邮件发送失败 (the last {streak} send(s) failed): {last_error}"]


def _local(at: datetime, config: Config) -> str:
    return at.astimezone(config.tz).isoformat(timespec="seconds")
