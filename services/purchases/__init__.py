"""Buying licenses: pricing, quotes, purchases, signatures, the email outbox."""
