"""Applications through HTTP: applying (visibility, eligibility, one live application), every
pipeline step from every stage by every kind of actor, who reads what (the applicant, the
hiring manager, HR, the applicant's manager before and after they are told, the rest of the
chain, a colleague), the manager notice, history, statement counts and isolation."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import GQL, TenantInfo, only_error
from tests.mobility.helpers import (
    APPLICANT,
    COLLEAGUE,
    CURRENT_MANAGER,
    HIRING,
    HR,
    agid,
    levels,
    make_application,
    make_posting,
    mobility_org,
    one,
    pgid,
    rows,
    set_notice_stage,
)
from upward import clock
from upward.mobility.applications import TRANSITIONS

APP_FIELDS = """id stage note shareWithManager rejectionReason managerToldAt postingId
  posting { id title } postingTitle postingKind allowedActions applicant { email } hiringManager { email }
  history { fromStage toStage reason actorType actor { email } }"""
APPLY = f"""mutation($i: ApplyToPostingInput!) {{ applyToPosting(input: $i) {{ {APP_FIELDS} }} }}"""
MOVE = """mutation($id: ID!, $a: ApplicationAction!, $r: String) {
  transitionApplication(id: $id, action: $a, reason: $r) { stage rejectionReason } }"""
NODE = f"""query($id: ID!) {{ node(id: $id) {{ ... on Application {{ {APP_FIELDS} }} }} }}"""
LIST = """query($f: ApplicationFilter, $n: Int) { applications(filter: $f, first: $n) {
  totalCount edges { node { id stage applicant { email } } } } }"""


@pytest.fixture
async def t(make_tenant: Any) -> Any:
    clock.freeze(datetime(2026, 6, 15, 10, 0, tzinfo=UTC))
    try:
        yield await make_tenant(mobility_org())
    finally:
        clock.freeze(None)


async def _apply(gql: GQL, t: TenantInfo, pid: uuid.UUID, who: str = APPLICANT, **kw: Any) -> Any:
    return await gql(APPLY, {"i": {"postingId": pgid(pid), **kw}}, token=t.token(who))


class TestApply:
    async def test_applies_with_history_audit_and_a_note_to_the_hiring_manager(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        pid = await make_posting(owner_engine, t)
        body = await _apply(gql, t, pid, note="  I built the ledger  ")
        assert "errors" not in body, body
        app = body["data"]["applyToPosting"]
        assert app["stage"] == "APPLIED"
        assert app["note"] == "I built the ledger"
        assert app["postingTitle"] == "Senior Engineer, Payments"
        assert app["posting"] == {"id": pgid(pid), "title": "Senior Engineer, Payments"}
        assert app["applicant"] == {"email": APPLICANT}
        assert app["hiringManager"] == {"email": HIRING}
        assert app["allowedActions"] == ["WITHDRAW"]
        assert app["managerToldAt"] is None
        assert app["history"] == [
            {
                "fromStage": None,
                "toStage": "APPLIED",
                "reason": None,
                "actorType": "employee",
                "actor": {"email": APPLICANT},
            }
        ]
        audit = await rows(
            owner_engine,
            "select action from audit_events where tenant_id = :t and target_type = 'Application'",
            t=t.id,
        )
        assert [a["action"] for a in audit] == ["application.apply"]
        notes = await rows(
            owner_engine,
            "select recipient_id from notifications where tenant_id = :t",
            t=t.id,
        )
        assert [n["recipient_id"] for n in notes] == [t.ids[HIRING]]

    async def test_a_posting_not_visible_is_not_found_like_one_that_never_existed(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        people_only = await make_posting(
            owner_engine, t, visible_department_ids=[t.departments["People"]]
        )
        draft = await make_posting(owner_engine, t, status="draft")
        closed = await make_posting(
            owner_engine, t, status="closed", closed_at=datetime(2026, 3, 1, tzinfo=UTC)
        )
        ghost = await _apply(gql, t, uuid.uuid4())
        assert only_error(ghost)["extensions"] == {"code": "NOT_FOUND", "field": "input.postingId"}
        for pid in (people_only, draft, closed):
            body = await _apply(gql, t, pid)
            assert only_error(body)["extensions"] == only_error(ghost)["extensions"]
            assert only_error(body)["message"] == only_error(ghost)["message"]
        # HR (who in People sees the first one) may apply to it
        assert "errors" not in await _apply(gql, t, people_only, who=HR)

    async def test_not_eligible_names_the_reasons(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        pid = await make_posting(owner_engine, t, min_months_in_role=36)
        err = only_error(await _apply(gql, t, pid))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.postingId"}
        assert "needs 36 months in current role (has 29)" in err["message"]
        ok = await make_posting(owner_engine, t, min_months_in_role=29)
        assert "errors" not in await _apply(gql, t, ok)

    async def test_the_hiring_manager_cannot_apply_to_their_own_posting(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        pid = await make_posting(owner_engine, t)
        err = only_error(await _apply(gql, t, pid, who=HIRING))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.postingId"}
        assert "hiring manager" in err["message"]

    async def test_one_live_application_per_posting_then_again_after_withdrawing(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        pid = await make_posting(owner_engine, t)
        first = (await _apply(gql, t, pid))["data"]["applyToPosting"]
        err = only_error(await _apply(gql, t, pid))
        assert err["extensions"] == {"code": "CONFLICT", "field": "input.postingId"}
        await gql.ok(MOVE, {"id": first["id"], "a": "WITHDRAW"}, token=t.token(APPLICANT))
        again = await _apply(gql, t, pid)
        assert "errors" not in again
        assert again["data"]["applyToPosting"]["id"] != first["id"]

    async def test_two_racing_applications_make_one(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        pid = await make_posting(owner_engine, t)
        got = await asyncio.gather(*(_apply(gql, t, pid) for _ in range(4)))
        assert sorted("errors" in b for b in got) == [False, True, True, True]
        assert {only_error(b)["extensions"]["code"] for b in got if "errors" in b} == {"CONFLICT"}
        n = await one(
            owner_engine, "select count(*) as n from applications where posting_id = :p", p=pid
        )
        assert n["n"] == 1

    async def test_note_is_checked(self, gql: GQL, t: TenantInfo, owner_engine: Any) -> None:
        pid = await make_posting(owner_engine, t)
        err = only_error(await _apply(gql, t, pid, note="a\x00b"))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.note"}
        err = only_error(await _apply(gql, t, pid, note="x" * 5001))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.note"}

    async def test_a_posting_of_another_tenant_is_not_found(
        self, gql: GQL, t: TenantInfo, make_tenant: Any, owner_engine: Any
    ) -> None:
        other = await make_tenant(mobility_org())
        pid = await make_posting(owner_engine, other)
        err = only_error(await _apply(gql, t, pid))
        assert err["extensions"] == {"code": "NOT_FOUND", "field": "input.postingId"}


# --- every step, from every stage, by every kind of actor -------------------------------------

STAGES = ("applied", "screening", "interviewing", "rejected", "withdrawn", "hired", "offer")
# written out by hand (not read from TRANSITIONS), so the table is checked, not echoed
ALLOWED = {
    ("screen", "applied"): "screening",
    ("interview", "screening"): "interviewing",
    ("offer", "interviewing"): "offer",
    ("hire", "offer"): "hired",
    **{("reject", s): "rejected" for s in ("applied", "screening", "interviewing", "offer")},
    **{("withdraw", s): "withdrawn" for s in ("applied", "screening", "interviewing", "offer")},
}
# who: (email, the application was told to the applicant's manager)
ACTORS = {
    "applicant": (APPLICANT, False),
    "hiring_manager": (HIRING, False),
    "hr": (HR, False),
    "current_manager": (CURRENT_MANAGER, False),
    "told_manager": (CURRENT_MANAGER, True),
    "colleague": (COLLEAGUE, False),
}


def _expected(action: str, stage: str, actor: str) -> str:
    if actor in ("current_manager", "colleague"):
        return "NOT_FOUND"  # they cannot tell it exists
    if actor == "told_manager":
        return "FORBIDDEN"  # reads it, moves nothing
    by_applicant = action == "withdraw"
    if by_applicant != (actor == "applicant"):
        return "FORBIDDEN"
    return ALLOWED.get((action, stage), "CONFLICT")


def test_the_table_matches_the_expectations() -> None:
    got = {(a, s): t.target for a, t in TRANSITIONS.items() for s in t.sources}
    assert got == ALLOWED


@pytest.mark.parametrize("actor", list(ACTORS))
@pytest.mark.parametrize("action", ["screen", "interview", "offer", "hire", "reject", "withdraw"])
async def test_every_step_from_every_stage(
    gql: GQL, t: TenantInfo, owner_engine: Any, action: str, actor: str
) -> None:
    email, told = ACTORS[actor]
    lv = await levels(owner_engine, t)
    for stage in STAGES:
        pid = await make_posting(owner_engine, t, level_id=lv["Senior Engineer"])
        aid = await make_application(owner_engine, t, pid, stage=stage, manager_told=told)
        body = await gql(
            MOVE, {"id": agid(aid), "a": action.upper(), "r": "Not this time"}, token=t.token(email)
        )
        want = _expected(action, stage, actor)
        row = await one(owner_engine, "select stage from applications where id = :a", a=aid)
        if want in ("NOT_FOUND", "FORBIDDEN", "CONFLICT"):
            assert only_error(body)["extensions"]["code"] == want, (stage, body)
            assert row["stage"] == stage
            continue
        assert "errors" not in body, (stage, body)
        assert body["data"]["transitionApplication"]["stage"] == want.upper()
        assert row["stage"] == want
        hist = await rows(
            owner_engine,
            "select from_stage, to_stage, actor_id from application_events "
            "where application_id = :a",
            a=aid,
        )
        assert [(h["from_stage"], h["to_stage"], h["actor_id"]) for h in hist] == [
            (stage, want, t.ids[email])
        ]


class TestSteps:
    async def test_reject_needs_a_reason_and_keeps_it(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        pid = await make_posting(owner_engine, t)
        aid = await make_application(owner_engine, t, pid, stage="screening")
        for reason in (None, "   "):
            err = only_error(
                await gql(
                    MOVE, {"id": agid(aid), "a": "REJECT", "r": reason}, token=t.token(HIRING)
                )
            )
            assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "reason"}
        got = await gql.ok(
            MOVE, {"id": agid(aid), "a": "REJECT", "r": "Needs more Go"}, token=t.token(HIRING)
        )
        assert got["transitionApplication"] == {
            "stage": "REJECTED",
            "rejectionReason": "Needs more Go",
        }
        # the applicant sees their status and the reason, and was told
        node = await gql.ok(NODE, {"id": agid(aid)}, token=t.token(APPLICANT))
        assert node["node"]["stage"] == "REJECTED"
        assert node["node"]["rejectionReason"] == "Needs more Go"
        assert node["node"]["allowedActions"] == []
        notes = await rows(
            owner_engine,
            "select subject from notifications where tenant_id = :t and recipient_id = :e",
            t=t.id,
            e=t.ids[APPLICANT],
        )
        assert [n["subject"] for n in notes] == [
            "Your application to 'Senior Engineer, Payments' is now rejected"
        ]

    async def test_the_full_pipeline_with_history(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        pid = await make_posting(owner_engine, t)
        app = (await _apply(gql, t, pid))["data"]["applyToPosting"]
        for action, who in (("SCREEN", HR), ("INTERVIEW", HIRING), ("OFFER", HIRING)):
            await gql.ok(MOVE, {"id": app["id"], "a": action}, token=t.token(who))
        node = (await gql.ok(NODE, {"id": app["id"]}, token=t.token(HIRING)))["node"]
        assert node["allowedActions"] == ["HIRE", "REJECT"]
        assert [(h["fromStage"], h["toStage"], h["actor"]["email"]) for h in node["history"]] == [
            (None, "APPLIED", APPLICANT),
            ("APPLIED", "SCREENING", HR),
            ("SCREENING", "INTERVIEWING", HIRING),
            ("INTERVIEWING", "OFFER", HIRING),
        ]

    async def test_another_tenants_application_is_not_found(
        self, gql: GQL, t: TenantInfo, make_tenant: Any, owner_engine: Any
    ) -> None:
        other = await make_tenant(mobility_org())
        aid = await make_application(owner_engine, other, await make_posting(owner_engine, other))
        for q, v in ((NODE, {"id": agid(aid)}), (MOVE, {"id": agid(aid), "a": "SCREEN"})):
            foreign = await gql(q, v, token=t.token(HR))
            ghost = await gql(q, {**v, "id": agid(uuid.uuid4())}, token=t.token(HR))
            assert foreign == ghost
            assert only_error(foreign)["extensions"]["code"] == "NOT_FOUND"


# --- who reads what, and the manager notice ---------------------------------------------------


async def _reads(gql: GQL, t: TenantInfo, email: str, aid: uuid.UUID) -> tuple[bool, int]:
    """(the node resolves, how many applications the list shows and counts)."""
    node = await gql(NODE, {"id": agid(aid)}, token=t.token(email))
    ghost = await gql(NODE, {"id": agid(uuid.uuid4())}, token=t.token(email))
    listed = await gql.ok(LIST, {"n": 50}, token=t.token(email))
    total = listed["applications"]["totalCount"]
    assert total == len(listed["applications"]["edges"])
    if "errors" in node:
        assert node == ghost  # no message, code or field that differs
        return False, total
    return True, total


class TestWhoReads:
    async def test_each_role_before_the_manager_is_told(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        pid = await make_posting(owner_engine, t)
        aid = await make_application(owner_engine, t, pid, stage="interviewing")
        assert await _reads(gql, t, APPLICANT, aid) == (True, 1)
        assert await _reads(gql, t, HIRING, aid) == (True, 1)
        assert await _reads(gql, t, HR, aid) == (True, 1)
        assert await _reads(gql, t, CURRENT_MANAGER, aid) == (False, 0)
        assert await _reads(gql, t, COLLEAGUE, aid) == (False, 0)
        # filtering by the applicant tells the manager nothing either
        f = {"employeeId": t.gid(APPLICANT)}
        got = await gql.ok(LIST, {"f": f, "n": 10}, token=t.token(CURRENT_MANAGER))
        assert got["applications"] == {"totalCount": 0, "edges": []}

    async def test_the_manager_is_told_at_the_offer_by_default_once(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        pid = await make_posting(owner_engine, t, hiring_manager=COLLEAGUE)
        app = (await _apply(gql, t, pid))["data"]["applyToPosting"]
        aid = (await one(owner_engine, "select id from applications where posting_id = :p", p=pid))[
            "id"
        ]

        async def told() -> list[Any]:
            return await rows(
                owner_engine,
                "select recipient_id from notifications where tenant_id = :t "
                "and idempotency_key like 'application.manager_notice:%'",
                t=t.id,
            )

        for action in ("SCREEN", "INTERVIEW"):
            await gql.ok(MOVE, {"id": app["id"], "a": action}, token=t.token(COLLEAGUE))
            assert await _reads(gql, t, CURRENT_MANAGER, aid) == (False, 0)
            assert await told() == []
        await gql.ok(MOVE, {"id": app["id"], "a": "OFFER"}, token=t.token(COLLEAGUE))
        assert [r["recipient_id"] for r in await told()] == [t.ids[CURRENT_MANAGER]]
        assert await _reads(gql, t, CURRENT_MANAGER, aid) == (True, 1)
        # the rest of the chain (the manager's manager) never reads it
        assert await _reads(gql, t, HIRING, aid) == (False, 0)
        node = (await gql.ok(NODE, {"id": app["id"]}, token=t.token(CURRENT_MANAGER)))["node"]
        assert node["stage"] == "OFFER"
        assert node["allowedActions"] == []
        assert node["managerToldAt"] is not None
        await gql.ok(MOVE, {"id": app["id"], "a": "HIRE"}, token=t.token(COLLEAGUE))
        assert len(await told()) == 1  # once

    async def test_sharing_tells_the_manager_at_once(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        pid = await make_posting(owner_engine, t)
        app = (await _apply(gql, t, pid, shareWithManager=True))["data"]["applyToPosting"]
        assert app["shareWithManager"] is True
        assert app["managerToldAt"] is not None
        aid = (await one(owner_engine, "select id from applications where posting_id = :p", p=pid))[
            "id"
        ]
        assert await _reads(gql, t, CURRENT_MANAGER, aid) == (True, 1)
        notes = await rows(
            owner_engine,
            "select recipient_id from notifications where tenant_id = :t "
            "and idempotency_key like 'application.manager_notice:%'",
            t=t.id,
        )
        assert [n["recipient_id"] for n in notes] == [t.ids[CURRENT_MANAGER]]

    async def test_a_told_manager_still_learns_nothing_of_confidential_preferences(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        async with owner_engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "insert into career_preferences (tenant_id, employee_id, open_to_moves) "
                    "values (:t, :e, 'confidential')"
                ),
                {"t": t.id, "e": t.ids[APPLICANT]},
            )
        pid = await make_posting(owner_engine, t)
        app = (await _apply(gql, t, pid, shareWithManager=True))["data"]["applyToPosting"]
        q = """query($id: ID!) { node(id: $id) { ... on Application { stage
          applicant { email careerPreferences { openToMoves } } } } }"""
        got = await gql.ok(q, {"id": app["id"]}, token=t.token(CURRENT_MANAGER))
        assert got["node"] == {
            "stage": "APPLIED",
            "applicant": {"email": APPLICANT, "careerPreferences": None},
        }
        mine = await gql.ok(q, {"id": app["id"]}, token=t.token(APPLICANT))
        assert mine["node"]["applicant"]["careerPreferences"] == {"openToMoves": "CONFIDENTIAL"}

    async def test_the_tenant_sets_the_notice_stage(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        await set_notice_stage(owner_engine, t, "screening")
        pid = await make_posting(owner_engine, t)
        app = (await _apply(gql, t, pid))["data"]["applyToPosting"]
        aid = (await one(owner_engine, "select id from applications where posting_id = :p", p=pid))[
            "id"
        ]
        assert await _reads(gql, t, CURRENT_MANAGER, aid) == (False, 0)
        await gql.ok(MOVE, {"id": app["id"], "a": "SCREEN"}, token=t.token(HIRING))
        assert await _reads(gql, t, CURRENT_MANAGER, aid) == (True, 1)

    async def test_a_rejection_before_the_notice_stage_is_never_told(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        pid = await make_posting(owner_engine, t)
        app = (await _apply(gql, t, pid))["data"]["applyToPosting"]
        await gql.ok(MOVE, {"id": app["id"], "a": "REJECT", "r": "No"}, token=t.token(HIRING))
        aid = (await one(owner_engine, "select id from applications where posting_id = :p", p=pid))[
            "id"
        ]
        assert await _reads(gql, t, CURRENT_MANAGER, aid) == (False, 0)
        # and the applicant's withdrawn application is never told either
        pid2 = await make_posting(owner_engine, t)
        app2 = (await _apply(gql, t, pid2))["data"]["applyToPosting"]
        await gql.ok(MOVE, {"id": app2["id"], "a": "WITHDRAW"}, token=t.token(APPLICANT))
        assert (await gql.ok(LIST, {"n": 10}, token=t.token(CURRENT_MANAGER)))["applications"][
            "totalCount"
        ] == 0


# --- statement counts -------------------------------------------------------------------------


async def test_the_application_list_statements_are_constant(
    gql: GQL, t: TenantInfo, owner_engine: Any, count_statements: Any
) -> None:
    for i in range(30):
        pid = await make_posting(owner_engine, t, title=f"Posting {i}")
        for j, who in enumerate((APPLICANT, COLLEAGUE)):
            # distinct times: every page holds both applicants (and so both their managers)
            at = datetime(2026, 2, 1, tzinfo=UTC) + timedelta(minutes=2 * i + j)
            aid = await make_application(
                owner_engine, t, pid, applicant=who, stage="screening", created_at=at
            )
            async with owner_engine.begin() as conn:
                await conn.execute(
                    sa.text(
                        "insert into application_events (tenant_id, application_id, to_stage, "
                        "actor_type) values (:t, :a, 'applied', 'employee')"
                    ),
                    {"t": t.id, "a": aid},
                )
    q = """query($n: Int!) { applications(first: $n) { totalCount edges { node {
      id stage postingTitle posting { title } allowedActions applicant { email manager { email } }
      hiringManager { email } history { toStage actor { email } } move { kind } } } } }"""
    tok = t.token(HR)
    await gql.ok(q, {"n": 2}, token=tok)  # warm
    count_statements.statements.clear()
    small = await gql.ok(q, {"n": 2}, token=tok)
    n_small = count_statements.count
    count_statements.statements.clear()
    big = await gql.ok(q, {"n": 60}, token=tok)
    assert len(small["applications"]["edges"]) == 2
    assert len(big["applications"]["edges"]) == 60
    assert count_statements.count == n_small, count_statements.statements


# --- the manifest section ---------------------------------------------------------------------


def _manifest_org(applications: list[dict[str, Any]]) -> dict[str, Any]:
    o = mobility_org()
    o["job_postings"] = [
        {
            "title": "Senior Engineer",
            "kind": "role",
            "department": "People",
            "hiring_manager": HIRING,
            "target_level": {"track": "Engineering", "level": "Senior Engineer"},
            "openings": 1,
            "status": "open",
        }
    ]
    o["applications"] = applications
    return o


class TestManifest:
    async def test_demo_applications_with_history_a_hire_and_a_second_apply(
        self, make_tenant: Any, owner_engine: Any
    ) -> None:
        from upward.tenancy.manifest import validate_manifest
        from upward.tenancy.service import apply_manifest

        org = _manifest_org(
            [
                {"employee": APPLICANT, "posting": "Senior Engineer", "stage": "hired"},
                {
                    "employee": COLLEAGUE,
                    "posting": "Senior Engineer",
                    "stage": "rejected",
                    "rejection_reason": "Filled",
                },
            ]
        )
        t = await make_tenant(org)
        got = await rows(
            owner_engine,
            "select e.email, a.stage, a.manager_told_at is not null as told, "
            "array(select to_stage from application_events v where v.application_id = a.id "
            "order by v.at, v.id) as path from applications a "
            "join employees e on e.id = a.employee_id where a.tenant_id = :t order by e.email",
            t=t.id,
        )
        assert [(r["email"], r["stage"], r["told"]) for r in got] == [
            (APPLICANT, "hired", True),
            (COLLEAGUE, "rejected", False),
        ]
        assert got[0]["path"] == ["applied", "screening", "interviewing", "offer", "hired"]
        assert got[1]["path"] == ["applied", "rejected"]
        move = await one(
            owner_engine, "select kind from employee_moves where tenant_id = :t", t=t.id
        )
        assert move["kind"] == "promotion"  # Engineer -> Senior Engineer
        posting = await one(
            owner_engine, "select filled, status from job_postings where tenant_id = :t", t=t.id
        )
        assert (posting["filled"], posting["status"]) == (1, "filled")
        # a second apply changes nothing
        data = {"slug": t.slug, "name": f"Tenant {t.slug}", "timezone": "Europe/Berlin", **org}
        await apply_manifest(owner_engine, validate_manifest(data, "again.toml"))
        n = await one(
            owner_engine,
            "select (select count(*) from applications where tenant_id = :t) as apps, "
            "(select count(*) from employee_moves where tenant_id = :t) as moves",
            t=t.id,
        )
        assert dict(n) == {"apps": 2, "moves": 1}

    @pytest.mark.parametrize(
        ("entry", "message"),
        [
            ({"employee": "nobody@t.example", "posting": "Senior Engineer"}, "'employee' must be"),
            ({"employee": APPLICANT, "posting": "Nope"}, "'posting' must be"),
            ({"employee": HIRING, "posting": "Senior Engineer"}, "hiring manager"),
            ({"employee": APPLICANT, "posting": "Senior Engineer", "stage": "x"}, "'stage'"),
            (
                {"employee": APPLICANT, "posting": "Senior Engineer", "stage": "rejected"},
                "needs 'rejection_reason'",
            ),
        ],
    )
    def test_validation_names_the_entry(self, entry: dict[str, Any], message: str) -> None:
        from upward.tenancy.manifest import ManifestError, validate_manifest

        data = {"slug": "x-demo", "name": "X", "timezone": "UTC", **_manifest_org([entry])}
        with pytest.raises(ManifestError) as exc:
            validate_manifest(data, "x.toml")
        text = str(exc.value)
        assert "applications[0]" in text and message in text, text
