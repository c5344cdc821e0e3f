"""The tamper-evident audit trail: every change is an event chained to the one before by hash."""

from registry.audit.service import record, record_change, snapshot

__all__ = ["record", "record_change", "snapshot"]
