"""API protection in the GraphQL layer: limits, cost, caches."""
