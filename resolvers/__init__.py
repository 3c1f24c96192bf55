"""Thin GraphQL glue: decode ids, check access, call a service, map domain errors."""
