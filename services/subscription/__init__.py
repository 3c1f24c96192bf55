"""Reads of a company's subscription: contracts, pools, usage, documents."""
