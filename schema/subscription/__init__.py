"""The subscription: contracts, plans, pools, usage, documents."""
