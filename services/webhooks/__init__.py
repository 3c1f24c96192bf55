"""Webhooks for partner integrations: endpoints, events written with their change, and their
deliveries (signed as Standard Webhooks sign, retried, never aimed inside the network)."""
