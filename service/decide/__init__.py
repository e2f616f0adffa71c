"""Decide stage: Message + tables -> city, deadline, report state and problems (pure)."""
