"""Daily licenses billed by use: activity reports, the month's usage, the next invoice."""
