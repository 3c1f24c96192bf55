"""The domain: rules, transactions and typed errors. Knows nothing of GraphQL or HTTP."""
