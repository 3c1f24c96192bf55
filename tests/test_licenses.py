"""Deleting licenses and moving users, over HTTP: each rule, each error code, concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from licensing.settings import Settings
from models.audit import AuditEvent
from models.contract import LicensePool
from models.enums import Role
from models.user import LicenseAssignment, User
from resolvers.ids import encode_id
from tests.conftest import Acme, error_codes, gql

DELETE = """
mutation Delete($input: DeleteLicensesInput!) {
  deleteLicenses(input: $input) {
    licensePool { kind total assigned available }
    userErrors { field message code }
  }
}
"""
ASSIGN = """
mutation Assign($input: AssignLicenseInput!) {
  assignLicense(input: $input) {
    user { name licenses { product kind } }
    userErrors { field message code }
  }
}
"""
UNASSIGN = """
mutation Unassign($input: UnassignLicenseInput!) {
  unassignLicense(input: $input) {
    user { name licenses { product kind } }
    userErrors { field message code }
  }
}
"""
DELETE_USER = """
mutation DeleteUser($input: DeleteUserInput!) {
  deleteUser(input: $input) { deletedUserId userErrors { field message code } }
}
"""

JOBS = encode_id("Contract", 1)


async def _pool_counts(kind: str, product: str = "JOBS") -> tuple[int, int]:
    pool = await LicensePool.get(contract__company_id=1, contract__product=product, kind=kind)
    return pool.total, pool.assigned


async def _user_id(email: str) -> str:
    return encode_id("User", (await User.get(email=email)).id)


async def _delete(client: httpx.AsyncClient, token: str, **input: Any) -> dict[str, Any]:
    body = await gql(client, DELETE, {"input": {"contractId": JOBS, **input}}, token=token)
    result: dict[str, Any] = body["data"]["deleteLicenses"]
    return result


async def test_delete_unassigned_monthly_licenses(client: httpx.AsyncClient, acme: Acme) -> None:
    result = await _delete(client, acme.tokens["finance"], kind="MONTHLY", quantity=2)
    assert result == {
        "licensePool": {"kind": "MONTHLY", "total": 1, "assigned": 1, "available": 0},
        "userErrors": [],
    }
    event = await AuditEvent.get(action="licenses.deleted")
    assert event.details == {
        "kind": "MONTHLY",
        "quantity": 2,
        "totalBefore": 3,
        "totalAfter": 1,
        "assigned": 1,
    }
    assert event.actor_user_id == (await User.get(email="frank@acme-heating.example")).id


async def test_contracted_licenses_are_not_deletable(client: httpx.AsyncClient, acme: Acme) -> None:
    result = await _delete(client, acme.tokens["owner"], kind="CONTRACTED", quantity=1)
    [error] = result["userErrors"]
    assert result["licensePool"] is None
    assert (error["code"], error["field"]) == ("CONTRACTED_NOT_DELETABLE", ["input", "kind"])
    assert "renewal" in error["message"]
    assert await _pool_counts("CONTRACTED") == (10, 2)


async def test_quantity_must_be_within_the_total(client: httpx.AsyncClient, acme: Acme) -> None:
    for quantity in (0, -1, 4):
        result = await _delete(client, acme.tokens["owner"], kind="MONTHLY", quantity=quantity)
        [error] = result["userErrors"]
        assert (error["code"], error["field"]) == ("INVALID_QUANTITY", ["input", "quantity"])
        assert "from 1 to 3" in error["message"]
    assert await _pool_counts("MONTHLY") == (3, 1)


async def test_assigned_licenses_are_not_deleted(client: httpx.AsyncClient, acme: Acme) -> None:
    result = await _delete(client, acme.tokens["owner"], kind="MONTHLY", quantity=3)
    [error] = result["userErrors"]
    assert error["code"] == "LICENSES_ASSIGNED"
    assert "1 are assigned (Oscar Office)" in error["message"]
    assert "Delete those users or switch them" in error["message"]
    assert await _pool_counts("MONTHLY") == (3, 1)
    assert await AuditEvent.all().count() == 0


async def test_holders_are_named_first_few_and_counted(
    client: httpx.AsyncClient, acme: Acme, settings: Settings
) -> None:
    pool = await LicensePool.get(contract_id=1, kind="DAILY")
    await LicensePool.filter(id=pool.id).update(total=9)
    for n in range(7):
        user = await User.create(
            company_id=1, name=f"Temp {n}", email=f"t{n}@x.example", role=Role.ENGINEER
        )
        await LicenseAssignment.create(
            user=user, pool=pool, product="JOBS", assigned_at=settings.clock.now()
        )
    await LicensePool.filter(id=pool.id).update(assigned=8)
    result = await _delete(client, acme.tokens["owner"], kind="DAILY", quantity=2)
    message = result["userErrors"][0]["message"]
    assert "8 are assigned (Erin Engineer, Temp 0, Temp 1, Temp 2, Temp 3 and 3 more)" in message


async def test_foreign_and_unknown_contracts_are_not_found(
    client: httpx.AsyncClient, acme: Acme, other_company: str
) -> None:
    for contract_id in (JOBS, encode_id("Contract", 99), "garbage"):
        body = await gql(
            client,
            DELETE,
            {"input": {"contractId": contract_id, "kind": "MONTHLY", "quantity": 1}},
            token=other_company if contract_id == JOBS else acme.tokens["owner"],
        )
        [error] = body["data"]["deleteLicenses"]["userErrors"]
        assert (error["code"], error["field"]) == ("NOT_FOUND", ["input", "contractId"])
    assert await _pool_counts("MONTHLY") == (3, 1)


async def test_other_roles_may_not_change_licenses(client: httpx.AsyncClient, acme: Acme) -> None:
    oscar = await _user_id("oscar@acme-heating.example")
    attempts = [
        (DELETE, {"contractId": JOBS, "kind": "MONTHLY", "quantity": 1}),
        (ASSIGN, {"userId": oscar, "product": "JOBS", "kind": "DAILY"}),
        (UNASSIGN, {"userId": oscar, "product": "JOBS"}),
        (DELETE_USER, {"userId": oscar}),
    ]
    for role in ("office", "engineer"):
        for document, input in attempts:
            body = await gql(client, document, {"input": input}, token=acme.tokens[role])
            assert error_codes(body) == ["FORBIDDEN"]
    assert await _pool_counts("MONTHLY") == (3, 1)
    assert await User.filter(email="oscar@acme-heating.example").exists()


async def test_switch_a_user_to_another_kind(client: httpx.AsyncClient, acme: Acme) -> None:
    oscar = await _user_id("oscar@acme-heating.example")
    body = await gql(
        client,
        ASSIGN,
        {"input": {"userId": oscar, "product": "JOBS", "kind": "DAILY"}},
        token=acme.tokens["owner"],
    )
    assert body["data"]["assignLicense"] == {
        "user": {"name": "Oscar Office", "licenses": [{"product": "JOBS", "kind": "DAILY"}]},
        "userErrors": [],
    }
    assert await _pool_counts("MONTHLY") == (3, 0)
    assert await _pool_counts("DAILY") == (2, 2)
    # The same kind again changes nothing.
    again = await gql(
        client,
        ASSIGN,
        {"input": {"userId": oscar, "product": "JOBS", "kind": "DAILY"}},
        token=acme.tokens["owner"],
    )
    assert again["data"]["assignLicense"]["userErrors"] == []
    assert await _pool_counts("DAILY") == (2, 2)
    assert await AuditEvent.filter(action="license.switched").count() == 1


async def test_no_license_available(client: httpx.AsyncClient, acme: Acme) -> None:
    frank = await _user_id("frank@acme-heating.example")
    await gql(
        client,
        ASSIGN,
        {
            "input": {
                "userId": await _user_id("oscar@acme-heating.example"),
                "product": "JOBS",
                "kind": "DAILY",
            }
        },
        token=acme.tokens["owner"],
    )
    body = await gql(
        client,
        ASSIGN,
        {"input": {"userId": frank, "product": "JOBS", "kind": "DAILY"}},
        token=acme.tokens["owner"],
    )
    [error] = body["data"]["assignLicense"]["userErrors"]
    assert (error["code"], error["field"]) == ("NO_LICENSE_AVAILABLE", ["input", "kind"])
    assert await _pool_counts("CONTRACTED") == (10, 2)
    assert await _pool_counts("DAILY") == (2, 2)


async def test_assign_a_product_without_contract_or_unknown_user(
    client: httpx.AsyncClient, acme: Acme, other_company: str
) -> None:
    barry = await _user_id("barry@bolt-plumbing.example")
    body = await gql(
        client,
        ASSIGN,
        {"input": {"userId": barry, "product": "SALES", "kind": "MONTHLY"}},
        token=other_company,
    )
    [error] = body["data"]["assignLicense"]["userErrors"]
    assert (error["code"], error["field"]) == ("NOT_FOUND", ["input", "product"])
    body = await gql(
        client,
        ASSIGN,
        {"input": {"userId": barry, "product": "JOBS", "kind": "MONTHLY"}},
        token=acme.tokens["owner"],
    )
    [error] = body["data"]["assignLicense"]["userErrors"]
    assert (error["code"], error["field"]) == ("NOT_FOUND", ["input", "userId"])


async def test_unassign_frees_the_license(client: httpx.AsyncClient, acme: Acme) -> None:
    erin = await _user_id("erin@acme-heating.example")
    body = await gql(
        client, UNASSIGN, {"input": {"userId": erin, "product": "JOBS"}}, token=acme.tokens["owner"]
    )
    assert body["data"]["unassignLicense"] == {
        "user": {"name": "Erin Engineer", "licenses": []},
        "userErrors": [],
    }
    assert await _pool_counts("DAILY") == (2, 0)
    again = await gql(
        client, UNASSIGN, {"input": {"userId": erin, "product": "JOBS"}}, token=acme.tokens["owner"]
    )
    [error] = again["data"]["unassignLicense"]["userErrors"]
    assert (error["code"], error["field"]) == ("LICENSE_NOT_HELD", ["input", "product"])


async def test_delete_user_frees_licenses_which_stay(client: httpx.AsyncClient, acme: Acme) -> None:
    oscar = await _user_id("oscar@acme-heating.example")
    body = await gql(
        client, DELETE_USER, {"input": {"userId": oscar}}, token=acme.tokens["finance"]
    )
    assert body["data"]["deleteUser"] == {"deletedUserId": oscar, "userErrors": []}
    assert await _pool_counts("MONTHLY") == (3, 0)
    assert not await User.filter(email="oscar@acme-heating.example").exists()
    assert await AuditEvent.filter(action="user.deleted").count() == 1
    # The token of the deleted user stops working.
    assert error_codes(await gql(client, "{ viewer { name } }", token=acme.tokens["office"])) == [
        "UNAUTHENTICATED"
    ]


async def test_delete_user_refusals(
    client: httpx.AsyncClient, acme: Acme, other_company: str
) -> None:
    olivia = await _user_id("olivia@acme-heating.example")
    cases = [
        (acme.tokens["owner"], olivia, "CANNOT_DELETE_SELF"),
        (acme.tokens["finance"], olivia, "LAST_OWNER_REQUIRED"),
        (acme.tokens["owner"], await _user_id("barry@bolt-plumbing.example"), "NOT_FOUND"),
    ]
    for token, user_id, code in cases:
        body = await gql(client, DELETE_USER, {"input": {"userId": user_id}}, token=token)
        [error] = body["data"]["deleteUser"]["userErrors"]
        assert (error["code"], error["field"]) == (code, ["input", "userId"])
    assert await User.filter(company_id=1).count() == 4
    assert await _pool_counts("CONTRACTED") == (10, 2)


async def _consistent() -> None:
    for pool in await LicensePool.all():
        rows = await LicenseAssignment.filter(pool_id=pool.id).count()
        assert pool.total - pool.assigned == pool.available >= 0
        assert rows == pool.assigned, pool.kind


async def test_concurrent_deletes_never_oversell(client: httpx.AsyncClient, acme: Acme) -> None:
    await LicensePool.filter(contract_id=1, kind="MONTHLY").update(total=6)  # 5 available
    results = await asyncio.gather(
        *(_delete(client, acme.tokens["owner"], kind="MONTHLY", quantity=1) for _ in range(30))
    )
    succeeded = [r for r in results if not r["userErrors"]]
    assert len(succeeded) == 5
    assert {r["userErrors"][0]["code"] for r in results if r["userErrors"]} == {"LICENSES_ASSIGNED"}
    assert await _pool_counts("MONTHLY") == (1, 1)
    await _consistent()


async def test_concurrent_assignments_never_oversell(client: httpx.AsyncClient, acme: Acme) -> None:
    await LicensePool.filter(contract_id=1, kind="MONTHLY").update(total=4)  # 3 available
    await User.bulk_create(
        [
            User(company_id=1, name=f"New {n}", email=f"new{n}@x.example", role=Role.ENGINEER)
            for n in range(30)
        ]
    )
    ids = [encode_id("User", u.id) for u in await User.filter(email__startswith="new")]
    assert len(ids) == 30
    results = await asyncio.gather(
        *(
            gql(
                client,
                ASSIGN,
                {"input": {"userId": i, "product": "JOBS", "kind": "MONTHLY"}},
                token=acme.tokens["owner"],
            )
            for i in ids
        )
    )
    errors = [r["data"]["assignLicense"]["userErrors"] for r in results]
    assert sum(1 for e in errors if not e) == 3
    assert {e[0]["code"] for e in errors if e} == {"NO_LICENSE_AVAILABLE"}
    assert await _pool_counts("MONTHLY") == (4, 4)
    await _consistent()


async def test_interleaved_switches_and_deletes_stay_consistent(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    await LicensePool.filter(contract_id=1, kind="MONTHLY").update(total=8)
    await LicensePool.filter(contract_id=1, kind="DAILY").update(total=8)
    emails = ["olivia", "frank", "oscar", "erin"]
    ids = [await _user_id(f"{e}@acme-heating.example") for e in emails]
    calls = []
    for n in range(40):
        kind = ("MONTHLY", "DAILY", "CONTRACTED")[n % 3]
        calls.append(
            gql(
                client,
                ASSIGN,
                {"input": {"userId": ids[n % 4], "product": "JOBS", "kind": kind}},
                token=acme.tokens["owner"],
            )
        )
        calls.append(
            _delete(client, acme.tokens["owner"], kind=("MONTHLY", "DAILY")[n % 2], quantity=1)
        )
    results = await asyncio.gather(*calls)
    await _consistent()
    assert await LicenseAssignment.filter(product="JOBS").count() == 4
    # The interleaving did real work on both paths, not only refusals.
    assigned = [r for r in results[0::2] if not r["data"]["assignLicense"]["userErrors"]]
    deleted = [r for r in results[1::2] if not r["userErrors"]]
    assert len(assigned) >= 10
    assert len(deleted) >= 4
    totals = dict(await LicensePool.filter(contract_id=1).values_list("kind", "total"))
    assert totals["MONTHLY"] + totals["DAILY"] == 16 - len(deleted)


async def test_user_deletions_beside_unassignments_never_deadlock(
    client: httpx.AsyncClient, acme: Acme, settings: Settings
) -> None:
    """Found by the soak on PostgreSQL: deleting a user locked the company row FOR UPDATE, which
    the foreign-key check of every audit row written under a pool lock must share."""
    await LicensePool.filter(contract_id=1, kind="MONTHLY").update(total=80)
    await User.bulk_create(
        [
            User(company_id=1, name=f"Held {n}", email=f"held{n}@x.example", role=Role.ENGINEER)
            for n in range(60)
        ]
    )
    held = await User.filter(email__startswith="held").order_by("id")
    now = settings.clock.now()
    pool = await LicensePool.get(contract_id=1, kind="MONTHLY")
    await LicenseAssignment.bulk_create(
        [
            LicenseAssignment(user_id=u.id, pool_id=pool.id, product="JOBS", assigned_at=now)
            for u in held
        ]
    )
    await LicensePool.filter(id=pool.id).update(assigned=pool.assigned + len(held))
    owner = acme.tokens["owner"]
    calls = []
    for n, user in enumerate(held):
        user_id = encode_id("User", user.id)
        if n % 2:
            calls.append(gql(client, DELETE_USER, {"input": {"userId": user_id}}, token=owner))
        else:
            variables = {"input": {"userId": user_id, "product": "JOBS"}}
            calls.append(gql(client, UNASSIGN, variables, token=owner))
    results = await asyncio.gather(*calls)
    assert [
        r for r in results if "errors" in r or next(iter(r["data"].values()))["userErrors"]
    ] == []
    await _consistent()
    assert await _pool_counts("MONTHLY") == (80, 1)


async def test_assigning_to_users_being_deleted_is_refused_cleanly(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    """Found by the long soak on PostgreSQL: the insert failed on the deleted user's key."""
    await LicensePool.filter(contract_id=1, kind="DAILY").update(total=50)
    await User.bulk_create(
        [
            User(company_id=1, name=f"Gone {n}", email=f"gone{n}@x.example", role=Role.ENGINEER)
            for n in range(20)
        ]
    )
    owner = acme.tokens["owner"]
    calls = []
    for user in await User.filter(email__startswith="gone"):
        user_id = encode_id("User", user.id)
        calls.append(gql(client, DELETE_USER, {"input": {"userId": user_id}}, token=owner))
        variables = {"input": {"userId": user_id, "product": "JOBS", "kind": "DAILY"}}
        calls.append(gql(client, ASSIGN, variables, token=owner))
    results = await asyncio.gather(*calls)
    assert all("errors" not in r for r in results), [r for r in results if "errors" in r]
    refusals = {e["code"] for r in results for e in next(iter(r["data"].values()))["userErrors"]}
    assert refusals <= {"NOT_FOUND"}
    assert await User.filter(email__startswith="gone").count() == 0
    await _consistent()
