"""Contracts over time: terms, renewal, the renewal window and signed changes."""
