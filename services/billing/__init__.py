"""Daily licenses billed by use: the activity intake, the month's usage, the next invoice."""
