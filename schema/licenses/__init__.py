"""The company's users, the licenses they hold, and the changes to them."""
