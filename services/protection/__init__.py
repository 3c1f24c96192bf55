"""API protection: bearer tokens, rate limits, persisted queries."""
