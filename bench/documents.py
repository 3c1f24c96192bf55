"""The GraphQL documents the benchmark sends: the same text to the project and its references."""

from __future__ import annotations

import json

# Both contracts: plan with prices, dates, three pools, usage.
DASHBOARD = """query Dashboard { subscription { id
  usage { usedBytes allowanceBytes percentUsed }
  contracts { id product startsOn expiresOn
    plan { name storageAllowancePerLicenseBytes
      prices { kind period unitAmount { amountMinor currency formatted } } }
    licensePools { id kind total assigned available pending deletable }
    usage { usedBytes allowanceBytes percentUsed } } } }"""

USERS_PAGE = """query Users { subscription { company { users(first: 100) { totalCount
  pageInfo { hasNextPage endCursor }
  edges { node { id name email role licenses { product kind assignedAt } } } } } } }"""

QUOTE = """query Quote($contract: ID!) { licensePurchaseQuote(input: {contractId: $contract,
  kind: MONTHLY, quantity: 5}) { quote {
    contractBreakdown { currentTotal newTotal startsOn commitmentEndsOn }
    costBreakdown { subtotal { formatted } tax { formatted } total { formatted }
      lines { description amount { formatted } } } }
  userErrors { code message } } }"""

PURCHASE = """mutation Buy($contract: ID!) { purchaseLicenses(input: {contractId: $contract,
  kind: MONTHLY, quantity: 1}) { purchase { id status } userErrors { code } } }"""

DELETE = """mutation Delete($contract: ID!) { deleteLicenses(input: {contractId: $contract,
  kind: MONTHLY, quantity: 1}) { licensePool { total assigned } userErrors { code } } }"""

ASSIGN = """mutation Assign($user: ID!, $kind: LicenseKind!) { assignLicense(input: {userId: $user,
  product: JOBS, kind: $kind}) { user { id } userErrors { code } } }"""


def body(document: str, **variables: object) -> str:
    return json.dumps({"query": document, "variables": variables})
