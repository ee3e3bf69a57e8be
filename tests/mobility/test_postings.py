"""Job postings through HTTP: who creates and manages them, validation naming the field, every
transition from every status, the outbox, who sees what (and that the SQL list filter equals
the pure rule), eligibility, statement counts and isolation."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import GQL, SMALL_ORG, TenantInfo, only_error
from upward import clock
from upward.graphql.relay import from_global_id, to_global_id
from upward.mobility import rules
from upward.mobility.postings import TRANSITIONS

TODAY = date(2026, 6, 15)
FIELDS = """id kind title description status workMode openings filled openingsLeft
  minMonthsInRole opensOn closesOn startOn hoursPerWeek durationWeeks viewerCanManage
  allowedActions department { name } locations { name } hiringManager { email }
  targetLevel { title trackName }
  requiredSkills { skill { name } minProficiency required }
  preferredSkills { skill { name } minProficiency required }
  requiredCredentialTypes { name }
  visibility { departments { name } locations { name } levels { title } }
  eligibility { eligible reasons }"""
CREATE = (
    f"""mutation($i: CreateJobPostingInput!) {{ createJobPosting(input: $i) {{ {FIELDS} }} }}"""
)
UPDATE = f"""mutation($id: ID!, $i: UpdateJobPostingInput!) {{
  updateJobPosting(id: $id, input: $i) {{ {FIELDS} }} }}"""
MOVE = """mutation($id: ID!, $a: PostingAction!) { transitionJobPosting(id: $id, action: $a) {
  status allowedActions } }"""
NODE = f"""query($id: ID!) {{ node(id: $id) {{ ... on JobPosting {{ {FIELDS} }} }} }}"""
LIST = """query($f: JobPostingFilter) { jobPostings(filter: $f, first: 100) { totalCount
  edges { node { id title status } } } }"""


def org() -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    o["skills"] = [
        {"name": "Python", "category": "engineering"},
        {"name": "Leadership", "category": "management"},
        {"name": "SQL", "category": "engineering"},
    ]
    o["credential_types"] = [
        {"name": "Cloud Architect", "category": "certification", "validity_months": 36}
    ]
    o["career_tracks"] = [
        {"name": "Engineering", "levels": [{"title": "Engineer"}, {"title": "Senior Engineer"}]}
    ]
    o["employee_levels"] = [
        {"employee": "dev@t.example", "track": "Engineering", "level": "Engineer",
         "since": date(2025, 12, 1)},
        {"employee": "peer@t.example", "track": "Engineering", "level": "Senior Engineer",
         "since": date(2024, 1, 1)},
    ]  # fmt: skip
    return o


@pytest.fixture
async def t(make_tenant: Any) -> Any:
    clock.freeze(datetime(2026, 6, 15, 10, 0, tzinfo=UTC))
    try:
        yield await make_tenant(org())
    finally:
        clock.freeze(None)


async def catalog(gql: GQL, t: TenantInfo) -> dict[str, str]:
    got = await gql.ok(
        """{ skills(first: 10) { edges { node { id name } } } credentialTypes { id name }
             careerTracks { levels { id title } } }""",
        token=t.token("hr@t.example"),
    )
    out = {e["node"]["name"]: e["node"]["id"] for e in got["skills"]["edges"]}
    out |= {x["name"]: x["id"] for x in got["credentialTypes"]}
    out |= {lv["title"]: lv["id"] for lv in got["careerTracks"][0]["levels"]}
    for name, uid in t.departments.items():
        out[name] = to_global_id("Department", uid)
    for name, uid in t.locations.items():
        out[name] = to_global_id("Location", uid)
    return out


def role_input(c: dict[str, str], **over: Any) -> dict[str, Any]:
    return {
        "kind": "ROLE",
        "title": "Senior Engineer, Payments",
        "description": "Own the payments platform.",
        "departmentId": c["Engineering"],
        "locationIds": [c["Berlin"], c["Austin"]],
        "workMode": "HYBRID",
        "targetLevelId": c["Senior Engineer"],
        "requiredSkills": [{"skillId": c["Python"], "minProficiency": 4}],
        "preferredSkills": [{"skillId": c["SQL"], "minProficiency": 2}],
        "requiredCredentialTypeIds": [c["Cloud Architect"]],
        "openings": 2,
        "minMonthsInRole": 3,
        "opensOn": "2026-06-01",
        "startOn": "2026-09-01",
        **over,
    }


async def create(gql: GQL, t: TenantInfo, who: str, i: dict[str, Any]) -> dict[str, Any]:
    return (await gql.ok(CREATE, {"i": i}, token=t.token(who)))["createJobPosting"]


async def move(gql: GQL, t: TenantInfo, pid: str, action: str, who: str = "hr@t.example") -> Any:
    return await gql(MOVE, {"id": pid, "a": action}, token=t.token(who))


async def events(engine: Any, t: TenantInfo, kind_like: str = "posting.%") -> list[Any]:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                sa.text(
                    "select kind, subject_type, payload from domain_events where tenant_id = :t "
                    "and kind like :k order by occurred_at, id"
                ),
                {"t": t.id, "k": kind_like},
            )
        ).all()


async def audits(engine: Any, t: TenantInfo) -> list[str]:
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    sa.text(
                        "select action from audit_events where tenant_id = :t "
                        "and action like 'job_posting.%' order by occurred_at, id"
                    ),
                    {"t": t.id},
                )
            ).scalars()
        )


async def test_create_open_and_who_sees_it(t: TenantInfo, gql: GQL, owner_engine: Any) -> None:
    c = await catalog(gql, t)
    p = await create(gql, t, "lead@t.example", role_input(c))
    assert p["status"] == "DRAFT" and p["kind"] == "ROLE" and p["workMode"] == "HYBRID"
    assert p["hiringManager"] == {"email": "lead@t.example"}  # a manager creates their own
    assert p["targetLevel"] == {"title": "Senior Engineer", "trackName": "Engineering"}
    assert p["requiredSkills"] == [
        {"skill": {"name": "Python"}, "minProficiency": 4, "required": True}
    ]
    assert p["preferredSkills"] == [
        {"skill": {"name": "SQL"}, "minProficiency": 2, "required": False}
    ]
    assert p["requiredCredentialTypes"] == [{"name": "Cloud Architect"}]
    assert sorted(x["name"] for x in p["locations"]) == ["Austin", "Berlin"]
    assert p["openingsLeft"] == 2 and p["filled"] == 0
    assert p["viewerCanManage"] is True and p["allowedActions"] == ["OPEN"]
    assert p["visibility"] == {"departments": [], "locations": [], "levels": []}
    assert p["eligibility"]["eligible"] is False
    assert "you are the hiring manager of this posting" in p["eligibility"]["reasons"]
    pid = p["id"]
    # a draft: only its hiring manager and HR see it
    for who in ("dev@t.example", "peer@t.example", "boss@t.example"):
        err = only_error(await gql(NODE, {"id": pid}, token=t.token(who)))
        assert err["extensions"]["code"] == "NOT_FOUND"
        got = await gql.ok(LIST, token=t.token(who))
        assert got["jobPostings"]["totalCount"] == 0
    for who in ("hr@t.example", "admin@t.example", "lead@t.example"):
        assert (await gql.ok(NODE, {"id": pid}, token=t.token(who)))["node"]["id"] == pid
    mine = await gql.ok(LIST, {"f": {"mine": True}}, token=t.token("lead@t.example"))
    assert [e["node"]["id"] for e in mine["jobPostings"]["edges"]] == [pid]
    assert (await gql.ok(LIST, {"f": {"mine": True}}, token=t.token("hr@t.example")))[
        "jobPostings"
    ]["totalCount"] == 0
    assert await events(owner_engine, t) == []  # a draft is no event
    # open it: everyone sees it now, and may or may not apply
    got = await move(gql, t, pid, "OPEN", "lead@t.example")
    assert got["data"]["transitionJobPosting"] == {
        "status": "OPEN",
        "allowedActions": ["CLOSE", "FILL"],
    }
    dev = (await gql.ok(NODE, {"id": pid}, token=t.token("dev@t.example")))["node"]
    assert dev["viewerCanManage"] is False and dev["allowedActions"] == []
    assert dev["eligibility"] == {"eligible": True, "reasons": []}  # 6 months >= 3
    listed = await gql.ok(LIST, token=t.token("dev@t.example"))
    assert [e["node"]["id"] for e in listed["jobPostings"]["edges"]] == [pid]
    (ev,) = await events(owner_engine, t)
    raw = from_global_id(pid, field="id")[1]
    assert ev.kind == "posting.opened" and ev.subject_type == "JobPosting"
    assert ev.payload["posting_id"] == str(raw)
    assert ev.payload["hiring_manager_id"] == str(t.ids["lead@t.example"])
    assert await audits(owner_engine, t) == ["job_posting.create", "job_posting.open"]


async def test_gigs_and_hr_naming_a_hiring_manager(t: TenantInfo, gql: GQL) -> None:
    c = await catalog(gql, t)
    gig = await create(
        gql,
        t,
        "hr@t.example",
        {
            "kind": "GIG",
            "title": "Gig: incident review facilitator",
            "workMode": "REMOTE",
            "hiringManagerId": t.gid("boss@t.example"),
            "hoursPerWeek": 4,
            "durationWeeks": 12,
            "visibility": {"departmentIds": [c["Engineering"]], "levelIds": [c["Engineer"]]},
        },
    )
    assert gig["kind"] == "GIG" and gig["hoursPerWeek"] == 4 and gig["durationWeeks"] == 12
    assert gig["hiringManager"] == {"email": "boss@t.example"}
    assert gig["visibility"] == {
        "departments": [{"name": "Engineering"}],
        "locations": [],
        "levels": [{"title": "Engineer"}],
    }
    # the hiring manager manages it; HR does; nobody else
    boss = (await gql.ok(NODE, {"id": gig["id"]}, token=t.token("boss@t.example")))["node"]
    assert boss["viewerCanManage"] is True


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"kind": "GIG"}, "input.hoursPerWeek"),
        ({"kind": "GIG", "hoursPerWeek": 4}, "input.durationWeeks"),
        ({"kind": "GIG", "hoursPerWeek": 61, "durationWeeks": 4}, "input.hoursPerWeek"),
        ({"kind": "GIG", "hoursPerWeek": 4, "durationWeeks": 105}, "input.durationWeeks"),
        ({"hoursPerWeek": 4}, "input.hoursPerWeek"),
        ({"durationWeeks": 4}, "input.durationWeeks"),
        ({"openings": 0}, "input.openings"),
        ({"openings": 1001}, "input.openings"),
        ({"title": "  "}, "input.title"),
        ({"title": "x" * 201}, "input.title"),
        ({"minMonthsInRole": 241}, "input.minMonthsInRole"),
        ({"opensOn": "2026-07-01", "closesOn": "2026-06-30"}, "input.closesOn"),
        ({"opensOn": "2026-07-01", "startOn": "2026-06-30"}, "input.startOn"),
        ({"departmentId": "OTHER_DEPARTMENT"}, "input.departmentId"),
        ({"locationIds": ["BERLIN", "OTHER_LOCATION"]}, "input.locationIds.1"),
        ({"locationIds": ["BERLIN", "BERLIN"]}, "input.locationIds.1"),
        ({"targetLevelId": "OTHER_LEVEL"}, "input.targetLevelId"),
        ({"hiringManagerId": "OTHER_EMPLOYEE"}, "input.hiringManagerId"),
        ({"requiredSkills": "TWO_SKILLS_SECOND_TOO_HIGH"}, "input.requiredSkills.1.minProficiency"),
        ({"requiredSkills": "ZERO"}, "input.requiredSkills.0.minProficiency"),
        ({"preferredSkills": "SAME_AS_REQUIRED"}, "input.preferredSkills.0.skillId"),
        ({"requiredCredentialTypeIds": ["OTHER_TYPE"]}, "input.requiredCredentialTypeIds.0"),
        ({"visibility": {"levelIds": ["OTHER_LEVEL"]}}, "input.visibility.levelIds.0"),
        ({"visibility": {"departmentIds": ["OTHER_DEPARTMENT"]}}, "input.visibility.departmentIds.0"),
    ],
)  # fmt: skip
async def test_validation_names_the_field(
    t: TenantInfo, gql: GQL, make_tenant: Any, over: dict[str, Any], field: str
) -> None:
    c = await catalog(gql, t)
    other = await make_tenant(org())
    oc = await catalog(gql, other)
    subst = {
        "OTHER_DEPARTMENT": oc["Engineering"],
        "OTHER_LOCATION": oc["Austin"],
        "BERLIN": c["Berlin"],
        "OTHER_LEVEL": oc["Engineer"],
        "OTHER_EMPLOYEE": other.gid("dev@t.example"),
        "OTHER_TYPE": oc["Cloud Architect"],
        "TWO_SKILLS_SECOND_TOO_HIGH": [
            {"skillId": c["Python"], "minProficiency": 3},
            {"skillId": c["Leadership"], "minProficiency": 6},
        ],
        "ZERO": [{"skillId": c["Python"], "minProficiency": 0}],
        "SAME_AS_REQUIRED": [{"skillId": c["Python"], "minProficiency": 2}],
    }

    def fill(v: Any) -> Any:
        if isinstance(v, str):
            return subst.get(v, v)
        if isinstance(v, list):
            return [fill(x) for x in v]
        if isinstance(v, dict):
            return {k: fill(x) for k, x in v.items()}
        return v

    body = await gql(CREATE, {"i": role_input(c, **fill(over))}, token=t.token("hr@t.example"))
    err = only_error(body)
    assert err["extensions"]["code"] == "BAD_USER_INPUT", err
    assert err["extensions"]["field"] == field, err


async def test_who_may_create_and_manage(t: TenantInfo, gql: GQL) -> None:
    c = await catalog(gql, t)
    # an employee without reports creates nothing
    err = only_error(await gql(CREATE, {"i": role_input(c)}, token=t.token("dev@t.example")))
    assert err["extensions"]["code"] == "FORBIDDEN"
    # a manager creates only as the hiring manager
    i = role_input(c, hiringManagerId=t.gid("boss@t.example"))
    err = only_error(await gql(CREATE, {"i": i}, token=t.token("lead@t.example")))
    assert err["extensions"]["code"] == "FORBIDDEN"
    p = await create(gql, t, "hr@t.example", i)
    pid = p["id"]
    # the draft is invisible to another manager: NOT_FOUND, like a posting that never existed
    upd = {"id": pid, "i": {"title": "Renamed"}}
    err = only_error(await gql(UPDATE, upd, token=t.token("lead@t.example")))
    assert err["extensions"]["code"] == "NOT_FOUND"
    err = only_error(await gql(MOVE, {"id": pid, "a": "OPEN"}, token=t.token("lead@t.example")))
    assert err["extensions"]["code"] == "NOT_FOUND"
    await move(gql, t, pid, "OPEN", "boss@t.example")
    # open: visible to the manager, but still not theirs
    err = only_error(await gql(UPDATE, upd, token=t.token("lead@t.example")))
    assert err["extensions"]["code"] == "FORBIDDEN"
    # the hiring manager edits; only HR hands it over
    got = await gql.ok(UPDATE, upd, token=t.token("boss@t.example"))
    assert got["updateJobPosting"]["title"] == "Renamed"
    hand = {"id": pid, "i": {"hiringManagerId": t.gid("lead@t.example")}}
    err = only_error(await gql(UPDATE, hand, token=t.token("boss@t.example")))
    assert err["extensions"]["code"] == "FORBIDDEN"
    got = await gql.ok(UPDATE, hand, token=t.token("hr@t.example"))
    assert got["updateJobPosting"]["hiringManager"] == {"email": "lead@t.example"}
    err = only_error(await gql(UPDATE, upd, token=t.token("boss@t.example")))
    assert err["extensions"]["code"] == "FORBIDDEN"  # visible (open), no longer theirs


async def test_update_merges_and_validates_the_whole(
    t: TenantInfo, gql: GQL, owner_engine: Any
) -> None:
    c = await catalog(gql, t)
    p = await create(gql, t, "hr@t.example", role_input(c))
    pid = p["id"]
    # a role cannot get gig hours; turning it into a gig needs both
    for i, field in (
        ({"hoursPerWeek": 5}, "input.hoursPerWeek"),
        ({"kind": "GIG", "hoursPerWeek": 5}, "input.durationWeeks"),
        ({"kind": None}, "input.kind"),
        ({"closesOn": "2026-05-01"}, "input.closesOn"),  # before opensOn 2026-06-01
    ):
        err = only_error(await gql(UPDATE, {"id": pid, "i": i}, token=t.token("hr@t.example")))
        assert err["extensions"]["field"] == field, (i, err)
    got = (
        await gql.ok(
            UPDATE,
            {
                "id": pid,
                "i": {
                    "kind": "GIG",
                    "hoursPerWeek": 5,
                    "durationWeeks": 10,
                    "preferredSkills": [],
                    "visibility": {"locationIds": [c["Berlin"]]},
                },
            },
            token=t.token("hr@t.example"),
        )
    )["updateJobPosting"]
    assert got["kind"] == "GIG" and got["hoursPerWeek"] == 5
    assert got["preferredSkills"] == [] and len(got["requiredSkills"]) == 1  # untouched
    assert got["visibility"]["locations"] == [{"name": "Berlin"}]
    assert got["title"] == p["title"] and got["openings"] == 2
    assert await events(owner_engine, t) == []  # a draft's changes are no event
    await move(gql, t, pid, "OPEN")
    await gql.ok(UPDATE, {"id": pid, "i": {"openings": 3}}, token=t.token("hr@t.example"))
    await gql.ok(UPDATE, {"id": pid, "i": {"openings": 3}}, token=t.token("hr@t.example"))
    kinds = [e.kind for e in await events(owner_engine, t)]
    assert kinds == ["posting.opened", "posting.updated"]  # no change: no event
    updated = (await events(owner_engine, t))[-1]
    assert updated.payload["changed"] == ["openings"]
    assert (await audits(owner_engine, t)).count("job_posting.update") == 3  # the no-op too
    await move(gql, t, pid, "CLOSE")
    err = only_error(
        await gql(UPDATE, {"id": pid, "i": {"openings": 4}}, token=t.token("hr@t.example"))
    )
    assert err["extensions"]["code"] == "CONFLICT"


STATUSES = ("DRAFT", "OPEN", "CLOSED", "FILLED")
PATH = {  # how to reach each status from a draft
    "DRAFT": [],
    "OPEN": ["OPEN"],
    "CLOSED": ["OPEN", "CLOSE"],
    "FILLED": ["OPEN", "FILL"],
}


async def test_every_transition_from_every_status(
    t: TenantInfo, gql: GQL, owner_engine: Any
) -> None:
    c = await catalog(gql, t)
    allowed = {
        (src.upper(), tr.action.upper()): tr.target.upper()
        for tr in TRANSITIONS.values()
        for src in tr.sources
    }
    assert allowed == {
        ("DRAFT", "OPEN"): "OPEN",
        ("OPEN", "CLOSE"): "CLOSED",
        ("OPEN", "FILL"): "FILLED",
        ("CLOSED", "REOPEN"): "OPEN",
    }
    for n, (status, action) in enumerate(
        itertools.product(STATUSES, ("OPEN", "CLOSE", "FILL", "REOPEN"))
    ):
        p = await create(gql, t, "lead@t.example", role_input(c, title=f"Posting {n}"))
        for step in PATH[status]:
            assert "errors" not in await move(gql, t, p["id"], step, "lead@t.example")
        body = await move(gql, t, p["id"], action, "lead@t.example")
        if (status, action) in allowed:
            assert "errors" not in body, (status, action, body)
            assert body["data"]["transitionJobPosting"]["status"] == allowed[(status, action)]
        else:
            err = only_error(body)
            assert err["extensions"]["code"] == "CONFLICT", (status, action, err)
    kinds = [e.kind for e in await events(owner_engine, t)]
    # 12 walk through OPEN on the way, plus OPEN from a draft and REOPEN
    assert kinds.count("posting.opened") == 12 + 2
    assert kinds.count("posting.closed") == 4 + 1 and kinds.count("posting.filled") == 4 + 1


async def test_opening_needs_dates_and_openings(t: TenantInfo, gql: GQL) -> None:
    c = await catalog(gql, t)
    p = await create(
        gql, t, "hr@t.example", role_input(c, opensOn="2026-01-01", closesOn="2026-06-14")
    )
    err = only_error(await move(gql, t, p["id"], "OPEN"))
    assert err["extensions"]["code"] == "CONFLICT" and "closing date" in err["message"]


def facts_of(r: Any) -> rules.Viewer:
    return rules.Viewer(
        employee_id=r.id,
        department_id=r.department_id,
        location_id=r.location_id,
        level_id=r.level_id,
        level_since=r.since,
        hire_date=r.hire_date,
    )


async def test_list_filter_in_sql_equals_the_pure_rule(
    t: TenantInfo, gql: GQL, owner_engine: Any
) -> None:
    """Postings over every combination of restrictions and dates; each person's list equals
    what `rules.visible` says, plus the postings they hire for."""
    c = await catalog(gql, t)
    deps = [[], [c["Engineering"]], [c["People"]], [c["Engineering"], c["People"]]]
    locs = [[], [c["Berlin"]], [c["Austin"]]]
    lvls = [[], [c["Engineer"]], [c["Senior Engineer"]]]
    dates = [
        ("2026-01-01", None),
        ("2026-07-01", None),  # not yet
        (None, "2026-06-14"),  # closed yesterday (opened by the owner below)
        ("2026-06-15", "2026-06-15"),  # today only
    ]
    for n, (d, lo, lv) in enumerate(itertools.product(deps, locs, lvls)):
        opens, closes = dates[n % len(dates)]
        p = await create(
            gql,
            t,
            "hr@t.example",
            role_input(
                c,
                title=f"P{n}",
                opensOn=opens,
                closesOn=closes,
                startOn=None,
                visibility={"departmentIds": d, "locationIds": lo, "levelIds": lv},
            ),
        )
        if closes != "2026-06-14":
            assert "errors" not in await move(gql, t, p["id"], "OPEN")
    async with owner_engine.begin() as conn:  # past closing dates cannot be opened: as owner
        await conn.execute(
            sa.text("update job_postings set status = 'open' where tenant_id = :t"), {"t": t.id}
        )
        await conn.execute(
            sa.text(
                "update job_postings set status = 'draft' where tenant_id = :t "
                "and title in ('P5', 'P17')"
            ),
            {"t": t.id},
        )
        postings = (
            await conn.execute(
                sa.text("select * from job_postings where tenant_id = :t"), {"t": t.id}
            )
        ).all()
        people = (
            await conn.execute(
                sa.text(
                    "select e.id, e.email, e.department_id, e.location_id, e.hire_date, "
                    "el.level_id, el.since from employees e left join employee_levels el "
                    "on el.tenant_id = e.tenant_id and el.employee_id = e.id "
                    "where e.tenant_id = :t"
                ),
                {"t": t.id},
            )
        ).all()
    checked = 0
    for person in people:
        if person.email in ("hr@t.example", "admin@t.example"):
            continue
        facts = facts_of(person)
        expected = {
            p.title
            for p in postings
            if rules.visible(rules.PostingRules.from_row(p._mapping), facts, TODAY)
            or p.hiring_manager_id == person.id
        }
        got = await gql.ok(LIST, token=t.token(person.email))
        titles = {e["node"]["title"] for e in got["jobPostings"]["edges"]}
        assert titles == expected, person.email
        assert got["jobPostings"]["totalCount"] == len(expected)
        checked += len(expected)
    assert checked > 4  # some are visible, to someone
    hr = await gql.ok(LIST, token=t.token("hr@t.example"))
    assert hr["jobPostings"]["totalCount"] == len(postings)
    # the filter combines with what one may see
    got = await gql.ok(LIST, {"f": {"status": ["DRAFT"]}}, token=t.token("dev@t.example"))
    assert got["jobPostings"]["totalCount"] == 0
    got = await gql.ok(LIST, {"f": {"status": ["DRAFT"]}}, token=t.token("hr@t.example"))
    assert got["jobPostings"]["totalCount"] == 2


async def test_eligibility_for_the_viewer(t: TenantInfo, gql: GQL) -> None:
    c = await catalog(gql, t)
    p = await create(gql, t, "boss@t.example", role_input(c, minMonthsInRole=12))
    await move(gql, t, p["id"], "OPEN", "boss@t.example")
    q = """query($id: ID!) { node(id: $id) { ... on JobPosting { eligibility { eligible reasons }
      openingsLeft } } }"""
    dev = (await gql.ok(q, {"id": p["id"]}, token=t.token("dev@t.example")))["node"]
    assert dev["eligibility"] == {
        "eligible": False,
        "reasons": ["needs 12 months in current role (has 6)"],
    }
    peer = (await gql.ok(q, {"id": p["id"]}, token=t.token("peer@t.example")))["node"]
    assert peer["eligibility"] == {"eligible": True, "reasons": []}
    boss = (await gql.ok(q, {"id": p["id"]}, token=t.token("boss@t.example")))["node"]
    assert boss["eligibility"]["reasons"][0] == "you are the hiring manager of this posting"


async def test_list_statements_do_not_grow(t: TenantInfo, gql: GQL, count_statements: Any) -> None:
    c = await catalog(gql, t)
    q = f"""{{ jobPostings(first: 50) {{ totalCount edges {{ node {{ {FIELDS} }} }} }} }}"""
    counts = []
    for n in (2, 6):
        while True:
            got = await gql.ok(q, token=t.token("dev@t.example"))
            if got["jobPostings"]["totalCount"] >= n:
                break
            p = await create(
                gql,
                t,
                "hr@t.example",
                role_input(
                    c,
                    title=f"P{got['jobPostings']['totalCount']}",
                    visibility={"departmentIds": [c["Engineering"]], "levelIds": [c["Engineer"]]},
                ),
            )
            await move(gql, t, p["id"], "OPEN")
        count_statements.statements.clear()
        got = await gql.ok(q, token=t.token("dev@t.example"))
        assert got["jobPostings"]["totalCount"] == n
        counts.append(count_statements.count)
    assert counts[0] == counts[1], counts


async def test_another_tenants_posting_is_not_found(
    t: TenantInfo, gql: GQL, make_tenant: Any
) -> None:
    c = await catalog(gql, t)
    p = await create(gql, t, "hr@t.example", role_input(c))
    await move(gql, t, p["id"], "OPEN")
    other = await make_tenant(org())
    for who in ("hr@t.example", "dev@t.example"):
        err = only_error(await gql(NODE, {"id": p["id"]}, token=other.token(who)))
        assert err["extensions"]["code"] == "NOT_FOUND"
        got = await gql.ok(LIST, token=other.token(who))
        assert got["jobPostings"]["totalCount"] == 0
    upd = {"id": p["id"], "i": {"title": "Mine now"}}
    err = only_error(await gql(UPDATE, upd, token=other.token("hr@t.example")))
    assert err["extensions"]["code"] == "NOT_FOUND"
    err = only_error(
        await gql(MOVE, {"id": p["id"], "a": "CLOSE"}, token=other.token("hr@t.example"))
    )
    assert err["extensions"]["code"] == "NOT_FOUND"


async def test_record_hire_fills_the_last_opening(
    t: TenantInfo, gql: GQL, owner_engine: Any
) -> None:
    from upward.auth.principal import Principal
    from upward.db import tenant_session
    from upward.errors import Conflict
    from upward.mobility import postings

    c = await catalog(gql, t)
    p = await create(gql, t, "hr@t.example", role_input(c, openings=2))
    await move(gql, t, p["id"], "OPEN")
    raw = from_global_id(p["id"], field="id")[1]
    principal = Principal.system(t.id, t.slug)
    for expected in ("open", "filled"):
        async with tenant_session(t.id) as s:
            row = await postings.record_hire(s, principal, raw)
        assert row.status == expected
    with pytest.raises(Conflict):
        async with tenant_session(t.id) as s:
            await postings.record_hire(s, principal, raw)
    kinds = [e.kind for e in await events(owner_engine, t)]
    assert kinds == ["posting.opened", "posting.filled"]
