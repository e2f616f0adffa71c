"""The per-batch circuit breaker of send.py, on a fake monotonic clock (pure logic)."""
from __future__ import annotations

import pytest

from service.errors import SendDeferred
from service.outgoing.transports import Circuit


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_circuit_opens_after_the_configured_consecutive_failures_only():
    circuit = Circuit(failures=3, max_seconds=60, monotonic=Ticks())
    for _ in range(2):
        circuit.begin()
        circuit.failed("connection refused")
    circuit.begin()
    circuit.succeeded()  # a success in between resets the streak
    for _ in range(2):
        circuit.begin()
        circuit.failed("connection refused")
    assert circuit.open_reason() == ""
    circuit.begin()
    circuit.failed("connection refused")
    assert "3 consecutive" in circuit.open_reason() and "connection refused" in circuit.open_reason()
    with pytest.raises(SendDeferred, match="not attempted"):
        circuit.begin()


def test_the_batch_time_counts_from_the_first_send_and_opens_the_circuit_when_spent():
    ticks = Ticks()
    circuit = Circuit(failures=3, max_seconds=30, monotonic=ticks)
    ticks.now += 1000  # time before the first send (parsing a backlog) does not count
    assert circuit.remaining() == 30
    circuit.begin()
    ticks.now += 29
    assert circuit.remaining() == pytest.approx(1) and circuit.open_reason() == ""
    ticks.now += 1
    assert "time limit of 30s" in circuit.open_reason()
    with pytest.raises(SendDeferred):
        circuit.begin()


def test_a_failure_every_send_would_share_opens_the_circuit_at_once():
    circuit = Circuit(failures=3, max_seconds=60, monotonic=Ticks())
    circuit.begin()
    circuit.trip("login refused for 'hndzsw@163.com'")
    assert circuit.open_reason() == "login refused for 'hndzsw@163.com'"
