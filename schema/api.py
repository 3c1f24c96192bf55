"""The assembled Schema and its SDL export."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from resolvers.errors import ClientError
from schema.company import Company, User
from schema.mutations import Mutation
from schema.purchases import LicensePurchase
from schema.query import Query
from schema.scalars import SCALAR_MAP
from schema.subscription import Contract, ContractDocument, LicensePool, Subscription


def _is_unexpected(error: GraphQLError) -> bool:
    """Mask errors raised by our own code unless they are deliberate client errors."""
    original = error.original_error
    return original is not None and not isinstance(original, (ClientError, GraphQLError))


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_unexpected, error_message="Internal server error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked


class LicensingSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log what went wrong on our side; refusals the client must handle are not news."""
        unexpected = [
            error for error in errors if not isinstance(error.original_error, ClientError)
        ]
        super().process_errors(unexpected, execution_context)


def build_schema() -> strawberry.Schema:
    return LicensingSchema(
        query=Query,
        mutation=Mutation,
        types=[
            Company,
            User,
            Contract,
            LicensePool,
            ContractDocument,
            Subscription,
            LicensePurchase,
        ],
        config=StrawberryConfig(disable_field_suggestions=True, scalar_map=SCALAR_MAP),
        extensions=[
            MaskUnexpectedErrors,
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
    )


def export_sdl(schema: strawberry.Schema) -> str:
    """The served SDL with an explicit schema block.

    Strawberry prints none when the roots are named Query and Mutation; the contract needs one,
    or tools would take the domain type Subscription for the subscription root.
    """
    sdl = schema.as_str()
    if sdl.startswith("schema {"):
        return sdl + "\n"
    roots = [("query", schema._schema.query_type), ("mutation", schema._schema.mutation_type)]
    lines = [f"  {op}: {root.name}" for op, root in roots if root is not None]
    return "schema {\n" + "\n".join(lines) + "\n}\n\n" + sdl + "\n"
