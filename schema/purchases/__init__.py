"""Quotes, purchases, signatures and the audit trail."""
