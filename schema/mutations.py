"""The root Mutation, assembled from each domain's mutations."""

from __future__ import annotations

import strawberry

from schema.billing.mutations import BillingMutations
from schema.licenses.mutations import LicenseMutations
from schema.purchases.mutations import PurchaseMutations
from schema.renewal.mutations import RenewalMutations
from schema.webhooks.mutations import WebhookMutations


@strawberry.type
class Mutation(
    PurchaseMutations, RenewalMutations, LicenseMutations, BillingMutations, WebhookMutations
):
    pass
