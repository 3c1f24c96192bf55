"""Licenses and who holds them: deleting, assigning, users."""
