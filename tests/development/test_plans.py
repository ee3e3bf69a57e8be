"""Individual development plans through HTTP: the workflow (every transition from every state,
by every kind of actor), content rules, validation, one open plan per period (also when two
requests race), certification activities completed by a recorded credential, the outbox,
history, statement counts and isolation."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import GQL, SMALL_ORG, TenantInfo, only_error
from upward import clock
from upward.development.plans import TRANSITIONS
from upward.graphql.relay import from_global_id

PLAN_FIELDS = """id title status periodStart periodEnd reviewComment allowedActions viewerCanEdit
  progress targetLevels { title } reviewedBy { email }
  goals { id title status progress overdue dueOn skills { name }
          activities { id kind title status credentialType { name } credential { number } } }"""
CREATE = f"""mutation($i: CreateDevelopmentPlanInput!) {{ createDevelopmentPlan(input: $i) {{
  {PLAN_FIELDS} }} }}"""
MOVE = """mutation($id: ID!, $a: PlanAction!, $c: String) {
  transitionDevelopmentPlan(id: $id, action: $a, comment: $c) { status reviewComment } }"""
NODE = f"""query($id: ID!) {{ node(id: $id) {{ ... on DevelopmentPlan {{ {PLAN_FIELDS}
  history {{ action fromStatus toStatus comment actorType actor {{ email }} changes }} }} }} }}"""
UPDATE_GOAL = """mutation($id: ID!, $i: UpdatePlanGoalInput!) { updatePlanGoal(id: $id, input: $i) {
  status progress completedAt } }"""
ADD_GOAL = (
    """mutation($p: ID!, $i: PlanGoalInput!) { addPlanGoal(planId: $p, input: $i) { id title } }"""
)


def org() -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    o["skills"] = [
        {"name": "Python", "category": "engineering"},
        {"name": "Leadership", "category": "management"},
    ]
    o["credential_types"] = [
        {"name": "Cloud Architect", "category": "certification", "validity_months": 36}
    ]
    o["career_tracks"] = [
        {
            "name": "Engineering",
            "levels": [{"title": "Engineer"}, {"title": "Senior Engineer"}],
        }
    ]
    return o


@pytest.fixture
async def t(make_tenant: Any) -> Any:
    clock.freeze(datetime(2026, 6, 15, 10, 0, tzinfo=UTC))
    try:
        yield await make_tenant(org())
    finally:
        clock.freeze(None)


async def _catalog(gql: GQL, t: TenantInfo) -> dict[str, str]:
    hr = t.token("hr@t.example")
    got = await gql.ok(
        """{ skills(first: 10) { edges { node { id name } } }
             credentialTypes { id name }
             careerTracks { levels { id title } } }""",
        token=hr,
    )
    out = {e["node"]["name"]: e["node"]["id"] for e in got["skills"]["edges"]}
    out |= {x["name"]: x["id"] for x in got["credentialTypes"]}
    out |= {lv["title"]: lv["id"] for lv in got["careerTracks"][0]["levels"]}
    return out


def _input(c: dict[str, str], year: int = 2026, **over: Any) -> dict[str, Any]:
    return {
        "title": f"Growing toward senior ({year})",
        "periodStart": f"{year}-01-01",
        "periodEnd": f"{year}-12-31",
        "aspirations": "Lead the platform team's next big migration.",
        "targetLevelIds": [c["Senior Engineer"]],
        "goals": [
            {
                "title": "Own a service end to end",
                "measure": "On call for it for a quarter without escalations",
                "dueOn": f"{year}-09-30",
                "skillIds": [c["Python"], c["Leadership"]],
                "activities": [
                    {"kind": "COURSE", "title": "Designing data-intensive systems"},
                    {
                        "kind": "CERTIFICATION",
                        "title": "Pass the cloud architect exam",
                        "credentialTypeId": c["Cloud Architect"],
                    },
                ],
            }
        ],
        **over,
    }


async def _create(gql: GQL, t: TenantInfo, c: dict[str, str], year: int = 2026) -> dict[str, Any]:
    return (await gql.ok(CREATE, {"i": _input(c, year)}, token=t.token("dev@t.example")))[
        "createDevelopmentPlan"
    ]


async def _move(
    gql: GQL, t: TenantInfo, plan: str, action: str, who: str, c: str | None = None
) -> Any:
    return await gql(MOVE, {"id": plan, "a": action, "c": c}, token=t.token(who))


async def test_the_workflow_end_to_end(t: TenantInfo, gql: GQL, owner_engine: Any) -> None:
    c = await _catalog(gql, t)
    plan = await _create(gql, t, c)
    assert plan["status"] == "DRAFT" and plan["viewerCanEdit"] is True
    assert plan["allowedActions"] == ["SUBMIT", "ARCHIVE"]
    assert plan["targetLevels"] == [{"title": "Senior Engineer"}]
    goal = plan["goals"][0]
    assert [s["name"] for s in goal["skills"]] == ["Leadership", "Python"]
    assert [a["kind"] for a in goal["activities"]] == ["COURSE", "CERTIFICATION"]
    pid = plan["id"]
    # a colleague cannot see it at all; the manager line and HR can
    err = only_error(await gql(NODE, {"id": pid}, token=t.token("peer@t.example")))
    assert err["extensions"]["code"] == "NOT_FOUND"
    for who in ("lead@t.example", "boss@t.example", "hr@t.example"):
        got = (await gql.ok(NODE, {"id": pid}, token=t.token(who)))["node"]
        assert got["title"] == plan["title"] and got["viewerCanEdit"] is False
    assert (await _move(gql, t, pid, "SUBMIT", "dev@t.example"))["data"][
        "transitionDevelopmentPlan"
    ]["status"] == "SUBMITTED"
    # the direct manager sees it waiting for review, and got an inbox notification
    waiting = await gql.ok(
        "{ developmentPlans(filter: {needsMyReview: true}) { edges { node { id } } } }",
        token=t.token("lead@t.example"),
    )
    assert [e["node"]["id"] for e in waiting["developmentPlans"]["edges"]] == [pid]
    inbox = await gql.ok(
        "{ notifications(first: 5) { edges { node { subject } } } }",
        token=t.token("lead@t.example"),
    )
    assert any(
        "submitted a development plan" in e["node"]["subject"]
        for e in inbox["notifications"]["edges"]
    )
    # changes need a comment
    err = only_error(await _move(gql, t, pid, "REQUEST_CHANGES", "lead@t.example"))
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "comment"}
    got = await _move(gql, t, pid, "REQUEST_CHANGES", "lead@t.example", "Add a mentoring goal")
    assert got["data"]["transitionDevelopmentPlan"] == {
        "status": "CHANGES_REQUESTED",
        "reviewComment": "Add a mentoring goal",
    }
    added = await gql.ok(
        ADD_GOAL,
        {
            "p": pid,
            "i": {
                "title": "Mentor a new hire",
                "activities": [{"kind": "MENTORSHIP", "title": "Pair weekly"}],
            },
        },
        token=t.token("dev@t.example"),
    )
    assert added["addPlanGoal"]["title"] == "Mentor a new hire"
    await _move(gql, t, pid, "SUBMIT", "dev@t.example")
    # anyone above in the line may approve (here the skip-level manager)
    got = await _move(gql, t, pid, "APPROVE", "boss@t.example", "Great plan")
    assert got["data"]["transitionDevelopmentPlan"]["status"] == "APPROVED"
    await _move(gql, t, pid, "START", "dev@t.example")
    # progress moves once under way; content does not
    gid = goal["id"]
    got = await gql.ok(
        UPDATE_GOAL, {"id": gid, "i": {"progress": 40}}, token=t.token("dev@t.example")
    )
    assert (
        got["updatePlanGoal"]["status"] == "IN_PROGRESS" and got["updatePlanGoal"]["progress"] == 40
    )
    err = only_error(
        await gql(UPDATE_GOAL, {"id": gid, "i": {"title": "Other"}}, token=t.token("dev@t.example"))
    )
    assert err["extensions"]["code"] == "CONFLICT"
    err = only_error(
        await gql(UPDATE_GOAL, {"id": gid, "i": {"progress": 50}}, token=t.token("lead@t.example"))
    )
    assert err["extensions"]["code"] == "FORBIDDEN"
    got = await gql.ok(
        UPDATE_GOAL, {"id": gid, "i": {"status": "COMPLETED"}}, token=t.token("dev@t.example")
    )
    assert got["updatePlanGoal"]["progress"] == 100 and got["updatePlanGoal"]["completedAt"]
    # reopened and completed again: still one goal-completed event
    await gql.ok(
        UPDATE_GOAL, {"id": gid, "i": {"status": "IN_PROGRESS"}}, token=t.token("dev@t.example")
    )
    await gql.ok(
        UPDATE_GOAL, {"id": gid, "i": {"status": "COMPLETED"}}, token=t.token("dev@t.example")
    )
    await _move(gql, t, pid, "COMPLETE", "dev@t.example")
    await _move(gql, t, pid, "COMPLETE", "dev@t.example")  # a CONFLICT: already completed
    final = (await gql.ok(NODE, {"id": pid}, token=t.token("dev@t.example")))["node"]
    assert final["status"] == "COMPLETED" and final["allowedActions"] == ["ARCHIVE"]
    assert final["reviewedBy"] == {"email": "boss@t.example"}
    actions = [(h["action"], h["actor"]["email"] if h["actor"] else None) for h in final["history"]]
    transitions = [a for a in actions if a[0] in TRANSITIONS]
    assert transitions == [
        ("submit", "dev@t.example"),
        ("request_changes", "lead@t.example"),
        ("submit", "dev@t.example"),
        ("approve", "boss@t.example"),
        ("start", "dev@t.example"),
        ("complete", "dev@t.example"),
    ]
    assert actions[0] == ("created", "dev@t.example")
    assert ("goal_added", "dev@t.example") in actions
    changes = next(h for h in final["history"] if h["action"] == "request_changes")
    assert changes["comment"] == "Add a mentoring goal" and changes["fromStatus"] == "SUBMITTED"
    async with owner_engine.connect() as conn:
        kinds = (
            await conn.execute(
                sa.text(
                    "select kind, count(*) from domain_events where tenant_id = :t "
                    "and kind like 'idp.%' group by kind order by kind"
                ),
                {"t": t.id},
            )
        ).all()
    assert dict(kinds) == {
        "idp.approved": 1,
        "idp.changes_requested": 1,
        "idp.completed": 1,
        "idp.goal_completed": 1,
        "idp.submitted": 2,
        "idp.targets_changed": 1,  # created with a target level (matching re-ranks the owner)
    }


# who may make each transition: O owner (dev), M direct manager (lead), S skip-level (boss),
# H HR (hr), P a colleague (peer: the plan does not exist for them)
ALLOWED = {
    "submit": "O",
    "withdraw": "O",
    "approve": "MSH",
    "request_changes": "MSH",
    "start": "O",
    "complete": "OMSH",
    "archive": "OH",
}
ACTORS = {
    "O": "dev@t.example",
    "M": "lead@t.example",
    "S": "boss@t.example",
    "H": "hr@t.example",
    "P": "peer@t.example",
}
# a way to reach each state from a new draft: (action, actor)
ROUTE = {
    "draft": [],
    "submitted": [("submit", "O")],
    "changes_requested": [("submit", "O"), ("request_changes", "M")],
    "approved": [("submit", "O"), ("approve", "M")],
    "in_progress": [("submit", "O"), ("approve", "M"), ("start", "O")],
    "completed": [("submit", "O"), ("approve", "M"), ("start", "O"), ("complete", "O")],
    "archived": [("archive", "O")],
}


async def test_every_transition_from_every_state_by_every_actor(t: TenantInfo, gql: GQL) -> None:
    c = await _catalog(gql, t)
    year = 2030
    for state, route in ROUTE.items():
        for action, tr in TRANSITIONS.items():
            year += 1
            pid = (await _create(gql, t, c, year))["id"]
            for step, who in route:
                await _move(gql, t, pid, step.upper(), ACTORS[who], "because")
            # what each actor is offered matches what they may do
            for key, email in ACTORS.items():
                if key == "P":
                    continue
                offered = (await gql.ok(NODE, {"id": pid}, token=t.token(email)))["node"][
                    "allowedActions"
                ]
                expect = [
                    a.upper()
                    for a, x in TRANSITIONS.items()
                    if state in x.sources and key in ALLOWED[a]
                ]
                assert offered == expect, (state, key)
            allowed = ALLOWED[action]
            for key, email in ACTORS.items():
                if key in allowed and state in tr.sources:
                    continue
                err = only_error(await _move(gql, t, pid, action.upper(), email, "because"))
                if key == "P":
                    want = "NOT_FOUND"
                elif key not in allowed:
                    want = "FORBIDDEN"
                else:
                    want = "CONFLICT"
                assert err["extensions"]["code"] == want, (state, action, key)
            status = (await gql.ok(NODE, {"id": pid}, token=t.token("dev@t.example")))["node"][
                "status"
            ]
            assert status == state.upper()  # nothing changed
            if state in tr.sources:
                who = next(k for k in allowed)
                got = await _move(gql, t, pid, action.upper(), ACTORS[who], "because")
                assert got["data"]["transitionDevelopmentPlan"]["status"] == tr.target.upper()
            # free the period for the next plans
            if state not in ("completed", "archived") and not (
                state in tr.sources and tr.target in ("completed", "archived")
            ):
                await _move(gql, t, pid, "ARCHIVE", "dev@t.example")


async def test_content_rules_and_validation(t: TenantInfo, gql: GQL, other: TenantInfo) -> None:
    c = await _catalog(gql, t)
    dev = t.token("dev@t.example")
    for over, field in (
        ({"title": "  "}, "input.title"),
        ({"title": "nul\u0000byte"}, "input.title"),
        ({"periodEnd": "2025-12-31"}, "input.periodEnd"),
        ({"periodEnd": "2031-01-01"}, "input.periodEnd"),
        ({"targetLevelIds": [t.gid("dev@t.example")]}, "input.targetLevelIds.0"),
        (
            {"goals": [{"title": "x", "skillIds": [c["Python"], await _other_skill(gql, other)]}]},
            "input.goals.0.skillIds.1",
        ),
        ({"goals": [{"title": "x", "dueOn": "2025-01-01"}]}, "input.goals.0.dueOn"),
        (
            {"goals": [{"title": "x", "activities": [{"kind": "CERTIFICATION", "title": "y"}]}]},
            "input.goals.0.activities.0.credentialTypeId",
        ),
        (
            {
                "goals": [
                    {
                        "title": "x",
                        "activities": [
                            {
                                "kind": "COURSE",
                                "title": "y",
                                "credentialTypeId": c["Cloud Architect"],
                            }
                        ],
                    }
                ]
            },
            "input.goals.0.activities.0.credentialTypeId",
        ),
        (
            {
                "goals": [
                    {
                        "title": "x",
                        "activities": [{"kind": "READING", "title": "y", "url": "ftp://x"}],
                    }
                ]
            },
            "input.goals.0.activities.0.url",
        ),
    ):
        err = only_error(await gql(CREATE, {"i": _input(c, **over)}, token=dev))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, over
    listed = await gql.ok("{ developmentPlans { edges { node { id } } } }", token=dev)
    assert listed["developmentPlans"]["edges"] == []  # nothing was written
    # a person writes only their own plan
    err = only_error(
        await gql(
            CREATE,
            {"i": _input(c, employeeId=t.gid("dev@t.example"))},
            token=t.token("lead@t.example"),
        )
    )
    assert err["extensions"]["code"] == "FORBIDDEN"
    err = only_error(
        await gql(
            CREATE,
            {"i": _input(c, employeeId=t.gid("dev@t.example"))},
            token=t.token("peer@t.example"),
        )
    )
    assert err["extensions"]["code"] == "NOT_FOUND"
    plan = await _create(gql, t, c)
    pid, gid = plan["id"], plan["goals"][0]["id"]
    upd = """mutation($id: ID!, $i: UpdateDevelopmentPlanInput!) { updateDevelopmentPlan(id: $id, input: $i) {
      title periodEnd targetLevels { title } } }"""
    got = await gql.ok(
        upd, {"id": pid, "i": {"title": "Senior by winter", "targetLevelIds": []}}, token=dev
    )
    assert got["updateDevelopmentPlan"] == {
        "title": "Senior by winter",
        "periodEnd": "2026-12-31",
        "targetLevels": [],
    }
    for who, code in (
        ("lead@t.example", "FORBIDDEN"),
        ("hr@t.example", "FORBIDDEN"),
        ("peer@t.example", "NOT_FOUND"),
    ):
        err = only_error(await gql(upd, {"id": pid, "i": {"title": "x"}}, token=t.token(who)))
        assert err["extensions"]["code"] == code
    for patch, field in (
        ({"progress": 101}, "input.progress"),
        ({"progress": -1}, "input.progress"),
        ({"title": ""}, "input.title"),
    ):
        err = only_error(await gql(UPDATE_GOAL, {"id": gid, "i": patch}, token=dev))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    # activities: add, change, remove while a draft
    add = """mutation($g: ID!, $i: PlanActivityInput!) { addPlanActivity(goalId: $g, input: $i) { id kind } }"""
    act = (
        await gql.ok(
            add,
            {"g": gid, "i": {"kind": "READING", "title": "The Staff Engineer's Path"}},
            token=dev,
        )
    )["addPlanActivity"]
    change = """mutation($id: ID!, $i: UpdatePlanActivityInput!) { updatePlanActivity(id: $id, input: $i) { status completedAt } }"""
    got = await gql.ok(change, {"id": act["id"], "i": {"status": "COMPLETED"}}, token=dev)
    assert got["updatePlanActivity"]["status"] == "COMPLETED"
    remove = """mutation($id: ID!) { removePlanActivity(id: $id) { activities { title } } }"""
    got = await gql.ok(remove, {"id": act["id"]}, token=dev)
    assert [a["title"] for a in got["removePlanActivity"]["activities"]] == [
        "Designing data-intensive systems",
        "Pass the cloud architect exam",
    ]
    # once submitted, the content is frozen for everyone
    await _move(gql, t, pid, "SUBMIT", "dev@t.example")
    err = only_error(await gql(ADD_GOAL, {"p": pid, "i": {"title": "More"}}, token=dev))
    assert err["extensions"]["code"] == "CONFLICT"
    err = only_error(await gql(UPDATE_GOAL, {"id": gid, "i": {"progress": 10}}, token=dev))
    assert err["extensions"]["code"] == "CONFLICT"  # not under way yet
    err = only_error(
        await gql("mutation($id: ID!) { removePlanGoal(id: $id) { id } }", {"id": gid}, token=dev)
    )
    assert err["extensions"]["code"] == "CONFLICT"


async def _other_skill(gql: GQL, other: TenantInfo) -> str:
    got = await gql.ok(
        "{ skills(first: 1) { edges { node { id } } } }", token=other.token("hr@t.example")
    )
    return got["skills"]["edges"][0]["node"]["id"]


@pytest.fixture
async def other(make_tenant: Any) -> TenantInfo:
    return await make_tenant(org())


async def test_one_open_plan_per_period_even_when_requests_race(t: TenantInfo, gql: GQL) -> None:
    c = await _catalog(gql, t)
    dev = t.token("dev@t.example")
    results = await asyncio.gather(*(gql(CREATE, {"i": _input(c)}, token=dev) for _ in range(4)))
    ok = [r for r in results if r.get("data") and r["data"].get("createDevelopmentPlan")]
    assert len(ok) == 1
    assert all(only_error(r)["extensions"]["code"] == "CONFLICT" for r in results if r not in ok)
    overlapping = _input(c, periodStart="2026-07-01", periodEnd="2027-06-30")
    err = only_error(await gql(CREATE, {"i": overlapping}, token=dev))
    assert err["extensions"] == {"code": "CONFLICT", "field": "input.periodStart"}
    # a plan for the next period is fine; archiving frees the period
    await gql.ok(CREATE, {"i": _input(c, 2027)}, token=dev)
    pid = ok[0]["data"]["createDevelopmentPlan"]["id"]
    await _move(gql, t, pid, "ARCHIVE", "dev@t.example")
    await gql.ok(CREATE, {"i": _input(c)}, token=dev)
    # someone else's plans do not count
    await gql.ok(CREATE, {"i": _input(c)}, token=t.token("peer@t.example"))


async def test_a_recorded_credential_completes_the_certification(t: TenantInfo, gql: GQL) -> None:
    c = await _catalog(gql, t)
    plan = await _create(gql, t, c)
    # another person's certificate of that type completes nothing
    create = """mutation($i: CreateCredentialInput!) { createCredential(input: $i) { credential { id } } }"""
    hr = t.token("hr@t.example")
    await gql.ok(
        create,
        {
            "i": {
                "credentialTypeId": c["Cloud Architect"],
                "issuedOn": "2026-06-01",
                "employeeId": t.gid("peer@t.example"),
                "number": "CA-9",
            }
        },
        token=hr,
    )
    got = (await gql.ok(NODE, {"id": plan["id"]}, token=t.token("dev@t.example")))["node"]
    assert [a["status"] for a in got["goals"][0]["activities"]] == ["PLANNED", "PLANNED"]
    await gql.ok(
        create,
        {
            "i": {
                "credentialTypeId": c["Cloud Architect"],
                "issuedOn": "2026-06-01",
                "employeeId": t.gid("dev@t.example"),
                "number": "CA-1",
            }
        },
        token=hr,
    )
    got = (await gql.ok(NODE, {"id": plan["id"]}, token=t.token("dev@t.example")))["node"]
    course, cert = got["goals"][0]["activities"]
    assert course["status"] == "PLANNED"
    assert cert["status"] == "COMPLETED" and cert["credential"] == {"number": "CA-1"}
    auto = [h for h in got["history"] if h["action"] == "activity_auto_completed"]
    assert len(auto) == 1 and auto[0]["actorType"] == "system" and auto[0]["actor"] is None


async def test_pages_of_people_with_plans_stay_flat(
    make_tenant: Any, gql: GQL, count_statements: Any
) -> None:
    from tests.credentials.test_statements import _count

    o = org()
    for i in range(12):
        o["employees"].append(
            {"email": f"w{i}@t.example", "name": f"W {i:02d}", "manager": "lead@t.example"}
        )
    t = await make_tenant(o)
    c = await _catalog(gql, t)
    for i in range(12):
        await gql.ok(CREATE, {"i": _input(c)}, token=t.token(f"w{i}@t.example"))
    q = """query($n: Int!) { employees(first: $n) { edges { node { name
      skills { skill { name } proficiency }
      idp { title status progress targetLevels { title } history { action actor { name } }
            goals { title overdue skills { name } activities { title credentialType { name } } } } } } } }"""
    hr = t.token("hr@t.example")
    small = await _count(gql, count_statements, q, {"n": 8}, hr)
    large = await _count(gql, count_statements, q, {"n": 30}, hr)
    assert small == large
    body = await gql.ok(q, {"n": 30}, token=hr)
    with_plan = [e["node"] for e in body["employees"]["edges"] if e["node"]["idp"]]
    assert len(with_plan) == 12
    assert with_plan[0]["idp"]["goals"][0]["activities"][1]["credentialType"] == {
        "name": "Cloud Architect"
    }
    # a colleague sees no one's plan
    body = await gql.ok(q, {"n": 30}, token=t.token("peer@t.example"))
    assert all(e["node"]["idp"] is None for e in body["employees"]["edges"])
    # the manager sees their line's
    body = await gql.ok(q, {"n": 30}, token=t.token("lead@t.example"))
    assert len([e for e in body["employees"]["edges"] if e["node"]["idp"]]) == 12


async def test_another_tenants_plans_do_not_exist(
    t: TenantInfo, other: TenantInfo, gql: GQL
) -> None:
    c = await _catalog(gql, t)
    plan = await _create(gql, t, c)
    pid, gid = plan["id"], plan["goals"][0]["id"]
    aid = plan["goals"][0]["activities"][0]["id"]
    theirs = other.token("hr@t.example")
    for q, v in (
        (NODE, {"id": pid}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": gid}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": aid}),
        (MOVE, {"id": pid, "a": "APPROVE", "c": None}),
        (UPDATE_GOAL, {"id": gid, "i": {"progress": 5}}),
        ("mutation($id: ID!) { removePlanActivity(id: $id) { id } }", {"id": aid}),
    ):
        err = only_error(await gql(q, v, token=theirs))
        assert err["extensions"]["code"] == "NOT_FOUND", q
    got = await gql.ok(
        "query($e: ID!) { developmentPlans(filter: {employeeId: $e}) { edges { node { id } } } }",
        {"e": t.gid("dev@t.example")},
        token=theirs,
    )
    assert got["developmentPlans"]["edges"] == []
    # and in the owner's tenant everything is still there
    got = (await gql.ok(NODE, {"id": pid}, token=t.token("hr@t.example")))["node"]
    assert got["status"] == "DRAFT" and got["goals"][0]["progress"] == 0
    assert date.fromisoformat(got["periodStart"]) == date(2026, 1, 1)


async def test_the_demo_plans_cover_the_workflow(gql: GQL, acme: TenantInfo) -> None:
    got = await gql.ok(
        "{ developmentPlans(first: 50) { edges { node { status employee { email } } } } }",
        token=acme.token("hr@acme.example"),
    )
    states = {e["node"]["status"] for e in got["developmentPlans"]["edges"]}
    assert {
        "DRAFT",
        "SUBMITTED",
        "CHANGES_REQUESTED",
        "APPROVED",
        "IN_PROGRESS",
        "COMPLETED",
    } <= states
    # Sam's plan as Sam's manager sees it on the team page
    q = """query($e: ID!) { node(id: $e) { ... on Employee { idp { title status
      targetLevels { title } goals { title skills { name } activities { kind credentialType { name } } } } } } }"""
    idp = (
        await gql.ok(
            q,
            {"e": acme.gid("sam.rivera@acme.example")},
            token=acme.token("jordan.kim@acme.example"),
        )
    )["node"]["idp"]
    assert idp["status"] == "IN_PROGRESS" and idp["targetLevels"] == [
        {"title": "Senior Software Engineer"}
    ]
    cert = idp["goals"][2]["activities"][0]
    assert cert == {
        "kind": "CERTIFICATION",
        "credentialType": {"name": "AWS Certified Solutions Architect - Associate"},
    }


def test_manifest_plans_are_checked() -> None:
    from upward.tenancy.manifest import ManifestError, validate_manifest

    data = {"slug": "x-plans", "name": "X", "timezone": "UTC", **org()}
    data["development_plans"] = [
        {
            "employee": "ghost@t.example",
            "title": "P",
            "period_start": date(2026, 1, 1),
            "period_end": date(2025, 1, 1),
            "status": "approved",
            "targets": [{"track": "Engineering", "level": "Nope"}],
            "goals": [
                {
                    "title": "G",
                    "skills": ["Cooking"],
                    "progress": 120,
                    "activities": [{"kind": "certification", "title": "A"}],
                }
            ],
        }
    ]
    with pytest.raises(ManifestError) as exc:
        validate_manifest(data, "x.toml")
    problems = " | ".join(str(p) for p in exc.value.problems)
    for expected in (
        "'employee' must be the email of an employee in this file",
        "'period_end' is before 'period_start'",
        "a plan that is approved needs 'reviewed_by'",
        "development_plans[0].targets[0]",
        "skill 'Cooking' is not declared in this file",
        "'progress' must be an integer from 0 to 100",
        "a certification (and only one) names its 'credential_type'",
    ):
        assert expected in problems, expected


async def test_the_reviewer_is_emailed_unless_they_opted_out(
    t: TenantInfo, gql: GQL, owner_engine: Any
) -> None:
    from tests.reminders.helpers import principal_of
    from tests.smtp import running_inbox, smtp_settings
    from upward.db import tenant_session
    from upward.reminders import delivery

    c = await _catalog(gql, t)
    pid = (await _create(gql, t, c))["id"]
    await _move(gql, t, pid, "SUBMIT", "dev@t.example")

    async def emails_of(email: str) -> list[Any]:
        async with owner_engine.connect() as conn:
            return list(
                (
                    await conn.execute(
                        sa.text(
                            "select d.id from deliveries d join notifications n on "
                            "n.tenant_id = d.tenant_id and n.id = d.notification_id join employees e "
                            "on e.tenant_id = n.tenant_id and e.id = n.recipient_id "
                            "where d.tenant_id = :t and d.channel = 'email' and e.email = :e"
                        ),
                        {"t": t.id, "e": email},
                    )
                ).scalars()
            )

    pending = await emails_of("lead@t.example")
    assert len(pending) == 1
    with running_inbox() as inbox, smtp_settings(inbox):
        p = await principal_of(t.id)
        async with tenant_session(t.id) as s:
            outcome = await delivery.attempt(s, p, pending[0])
        assert outcome.status == "sent"
        [msg] = await inbox.wait_for_async(1)
    assert msg["Subject"] == "Dee Dev submitted a development plan for your review"
    assert "Growing toward senior (2026)" in msg.get_content()
    # the owner opted out of email: the approval reaches their inbox only
    prefs = "mutation { setNotificationPreferences(input: {emailEnabled: false}) { emailEnabled } }"
    await gql.ok(prefs, token=t.token("dev@t.example"))
    await _move(gql, t, pid, "APPROVE", "lead@t.example", "Go")
    assert await emails_of("dev@t.example") == []
    inbox_q = "{ notifications(first: 5) { edges { node { subject body } } } }"
    got = await gql.ok(inbox_q, token=t.token("dev@t.example"))
    assert got["notifications"]["edges"][0]["node"] == {
        "subject": "Your development plan 'Growing toward senior (2026)' was approved",
        "body": "Your development plan 'Growing toward senior (2026)' was approved: Go",
    }


async def test_links_to_goals_show_the_goal_to_those_who_read_the_plan(
    t: TenantInfo, gql: GQL
) -> None:
    c = await _catalog(gql, t)
    plan = await _create(gql, t, c)
    gid = plan["goals"][0]["id"]
    dev, lead = t.token("dev@t.example"), t.token("lead@t.example")
    # feedback asked on the goal: the requester sees the goal, the colleague asked only its id
    ask = """mutation($i: RequestFeedbackInput!) { requestFeedback(input: $i) { id goalId goal { title } } }"""
    got = (
        await gql.ok(
            ask, {"i": {"responderIds": [t.gid("peer@t.example")], "goalId": gid}}, token=dev
        )
    )["requestFeedback"]
    assert got["goal"] == {"title": "Own a service end to end"} and got["goalId"] == gid
    seen = await gql.ok(
        "query($id: ID!) { node(id: $id) { ... on FeedbackRequest { goalId goal { title } } } }",
        {"id": got["id"]},
        token=t.token("peer@t.example"),
    )
    assert seen["node"] == {"goalId": gid, "goal": None}
    # an action item of the 1:1 advances the goal
    series = await gql.ok(
        "mutation($i: CreateCheckInSeriesInput!) { createCheckInSeries(input: $i) { id } }",
        {"i": {"reportId": t.gid("dev@t.example"), "startsAt": "2026-06-16T09:30:00"}},
        token=lead,
    )
    assert series["createCheckInSeries"]["id"]
    meetings = await gql.ok("{ checkIns(first: 1) { edges { node { id } } } }", token=lead)
    meeting = meetings["checkIns"]["edges"][0]["node"]["id"]
    add = """mutation($i: AddActionItemInput!) { addCheckInActionItem(input: $i) { goal { title progress } } }"""
    got = await gql.ok(
        add, {"i": {"checkInId": meeting, "body": "Draft the runbook", "goalId": gid}}, token=lead
    )
    assert got["addCheckInActionItem"]["goal"] == {
        "title": "Own a service end to end",
        "progress": 0,
    }


async def test_target_changes_are_events_for_matching(
    t: TenantInfo, gql: GQL, owner_engine: Any
) -> None:
    """Matching re-ranks a person whose plan targets change (`idp.targets_changed`): when a plan
    is created with targets, when they are edited, and when an archive stops them counting;
    not for other edits."""
    c = await _catalog(gql, t)
    dev = t.token("dev@t.example")
    plan = await _create(gql, t, c)

    async def count() -> int:
        async with owner_engine.connect() as conn:
            return await conn.scalar(
                sa.text(
                    "select count(*) from domain_events where tenant_id = :t "
                    "and kind = 'idp.targets_changed' and payload->>'plan_id' = :p"
                ),
                {"t": t.id, "p": str(from_global_id(plan["id"], field="id")[1])},
            )

    assert await count() == 1
    upd = """mutation($id: ID!, $i: UpdateDevelopmentPlanInput!) {
      updateDevelopmentPlan(id: $id, input: $i) { title } }"""
    await gql.ok(upd, {"id": plan["id"], "i": {"title": "Another title"}}, token=dev)
    await gql.ok(
        upd, {"id": plan["id"], "i": {"targetLevelIds": [c["Senior Engineer"]]}}, token=dev
    )
    assert await count() == 1  # nothing moved
    await gql.ok(upd, {"id": plan["id"], "i": {"targetLevelIds": []}}, token=dev)
    assert await count() == 2
    await gql.ok(
        upd, {"id": plan["id"], "i": {"targetLevelIds": [c["Senior Engineer"]]}}, token=dev
    )
    archive = """mutation($id: ID!) { transitionDevelopmentPlan(id: $id, action: ARCHIVE) {
      status } }"""
    await gql.ok(archive, {"id": plan["id"]}, token=dev)
    assert await count() == 4
