"""Parsed and validated documents, remembered by their SHA-256 (Strawberry's ParserCache and
ValidationCache key an unbounded LRU by the whole query text: 256 documents of 1 MiB each).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from resolvers.context import RequestContext
from schema.protection.bounded_cache import ByteBoundedLru, digest

# A parsed document takes about 80 bytes per character of GraphQL (measured with tracemalloc
# on the dashboard); comments take about 1. Weighing every character at 100 bounds both.
AST_BYTES_PER_CHARACTER = 100


@dataclass
class CachedDocument:
    document: DocumentNode
    query_length: int
    # The validation result, once a request has validated it ([] when valid).
    errors: list[GraphQLError] | None = None


class DocumentStore(ByteBoundedLru[str, CachedDocument]):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes, lambda entry: entry.query_length * AST_BYTES_PER_CHARACTER)


class DocumentCache(SchemaExtension):
    """Skips parsing and validation of a document this process has seen before."""

    def __init__(self, store: DocumentStore) -> None:
        self.store = store
        self.entry: CachedDocument | None = None

    def _key(self, query: str) -> str:
        context = self.execution_context.context
        if isinstance(context, RequestContext):
            return context.digest_of(query)
        return digest(query)

    def on_parse(self) -> Iterator[None]:
        execution = self.execution_context
        if execution.query:
            key = self._key(execution.query)
            self.entry = self.store.get(key)
            if self.entry is None:
                try:
                    document = parse(execution.query, **execution.parse_options)
                except GraphQLError:
                    # Not stored: Strawberry's own parse reports it, where a subscription's
                    # stream expects it (raised from this hook, it would escape the stream).
                    yield
                    return
                self.entry = CachedDocument(document, len(execution.query))
                self.store.put(key, self.entry)
            execution.graphql_document = self.entry.document
        yield

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        entry = self.entry
        if entry is not None and execution.graphql_document is entry.document:
            if entry.errors is None:
                entry.errors = validate_document(
                    execution.schema._schema, entry.document, execution.validation_rules
                )
            execution.pre_execution_errors = entry.errors
        yield
