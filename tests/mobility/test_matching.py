"""Matching: the service that scores and stores matches, and the match queries over HTTP."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, TenantInfo, only_error
from tests.mobility.helpers import (
    APPLICANT,
    COLLEAGUE,
    CURRENT_MANAGER,
    HIRING,
    HR,
    levels,
    make_posting,
    mobility_org,
    pgid,
    rows,
    skills,
)
from upward.auth.principal import Principal
from upward.db import tenant_session
from upward.mobility import matching

EXTRA = [f"extra{i}@t.example" for i in range(6)]  # more people open to moves (for page sizes)

MATCHES = """query($p: ID!, $n: Int, $a: String) { postingMatches(postingId: $p, first: $n, after: $a) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { score eligible confidential employee { email name }
    explanation { levelStep why ineligibleReasons
      components { name weight fraction contribution note }
      matchedSkills { skill { name } minProficiency proficiency gap required }
      partialSkills { skill { name } minProficiency proficiency gap }
      missingSkills { skill { name } required }
      credentials { credentialType { name } state validUntil }
      missingCredentials { state } } } } } }"""

RECOMMENDED = """query($n: Int, $a: String) { recommendedPostings(first: $n, after: $a) {
  hint openToMoves totalCount pageInfo { hasNextPage endCursor }
  edges { node { score posting { id title }
    explanation { components { name contribution } why
      matchedSkills { skill { name } } missingSkills { skill { name } } } } } } }"""


def org() -> dict[str, Any]:
    o = mobility_org()
    o["skills"] += [{"name": "SQL", "category": "engineering"}]
    o["credential_types"] = [
        {"name": "Cloud Cert", "category": "certification", "validity_months": 36}
    ]
    o["credentials"] = [
        {"employee": APPLICANT, "credential_type": "Cloud Cert", "number": "C-1",
         "issued_on": "today-10d"},
    ]  # fmt: skip
    o["employees"] = [
        *o["employees"],
        *(
            {"email": e, "name": f"Extra {i}", "manager": "boss@t.example",
             "department": "Engineering", "location": "Austin"}
            for i, e in enumerate(EXTRA)
        ),
    ]  # fmt: skip
    o["employee_skills"] = [
        {"employee": APPLICANT, "skill": "Python", "proficiency": 4},
        {"employee": APPLICANT, "skill": "Leadership", "proficiency": 2},
        {"employee": COLLEAGUE, "skill": "Python", "proficiency": 3},
        {"employee": CURRENT_MANAGER, "skill": "Python", "proficiency": 5},
        *({"employee": e, "skill": "Python", "proficiency": 1 + i % 3} for i, e in enumerate(EXTRA)),
    ]  # fmt: skip
    o["employee_levels"] = [
        *o["employee_levels"],
        {"employee": CURRENT_MANAGER, "track": "Management", "level": "Team Lead",
         "since": date(2022, 1, 1)},
    ]  # fmt: skip
    o["development_plans"] = [
        {"employee": APPLICANT, "title": "Grow", "period_start": date(2026, 1, 1),
         "period_end": date(2027, 12, 31),
         "targets": [{"track": "Engineering", "level": "Senior Engineer"}]},
    ]  # fmt: skip
    return o


async def prefs(engine: AsyncEngine, t: TenantInfo, email: str, openness: str, **kw: Any) -> None:
    cols = {"open_to_moves": openness, **kw}
    names = ", ".join(cols)
    values = ", ".join(f":{k}" for k in cols)
    sets = ", ".join(f"{k} = excluded.{k}" for k in cols)
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                f"insert into career_preferences (tenant_id, employee_id, {names}) "
                f"values (:t, :e, {values}) on conflict (tenant_id, employee_id) do update "
                f"set {sets}"
            ),
            {"t": t.id, "e": t.ids[email], **cols},
        )


async def add_credential_requirement(engine: AsyncEngine, t: TenantInfo, pid: uuid.UUID) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "insert into job_posting_credentials (tenant_id, posting_id, credential_type_id) "
                "select :t, :p, id from credential_types where tenant_id = :t and name = 'Cloud Cert'"
            ),
            {"t": t.id, "p": pid},
        )


class World:
    def __init__(self, t: TenantInfo, posting: uuid.UUID, lv: dict, sk: dict) -> None:
        self.t, self.posting, self.levels, self.skills = t, posting, lv, sk


@pytest.fixture
async def world(make_tenant, owner_engine) -> World:
    t = await make_tenant(org())
    lv = await levels(owner_engine, t)
    sk = await skills(owner_engine, t)
    await prefs(owner_engine, t, APPLICANT, "yes")
    await prefs(owner_engine, t, COLLEAGUE, "confidential")
    await prefs(owner_engine, t, CURRENT_MANAGER, "no")
    await prefs(owner_engine, t, HIRING, "yes")  # the hiring manager: never their own match
    pid = await make_posting(
        owner_engine,
        t,
        level_id=lv["Senior Engineer"],
        location_names=("Austin",),
        skills=[(sk["Python"], 4, True), (sk["Leadership"], 3, True), (sk["SQL"], 2, False)],
    )
    await add_credential_requirement(owner_engine, t, pid)
    return World(t, pid, lv, sk)


def system(t: TenantInfo) -> Principal:
    return Principal.system(t.id, t.slug)


async def recompute(t: TenantInfo, pid: uuid.UUID) -> int:
    async with tenant_session(t.id) as s:
        return await matching.recompute_posting(s, system(t), pid)


async def recompute_people(t: TenantInfo, emails: list[str]) -> int:
    async with tenant_session(t.id) as s:
        return await matching.recompute_people(s, system(t), [t.ids[e] for e in emails])


async def stored(engine: AsyncEngine, t: TenantInfo, **where: Any) -> dict[tuple, Any]:
    cond = "".join(f" and {k} = :{k}" for k in where)
    found = await rows(
        engine,
        f"select * from posting_matches where tenant_id = :t{cond}",
        t=t.id,
        **where,
    )
    return {(r["posting_id"], r["employee_id"]): r for r in found}


class TestRecomputePosting:
    async def test_scores_only_people_open_to_moves(self, world: World, owner_engine) -> None:
        t = world.t
        assert await recompute(t, world.posting) == 2
        got = await stored(owner_engine, t)
        assert {e for _, e in got} == {t.ids[APPLICANT], t.ids[COLLEAGUE]}
        dev = got[(world.posting, t.ids[APPLICANT])]
        peer = got[(world.posting, t.ids[COLLEAGUE])]
        assert dev["score"] > peer["score"]
        assert dev["eligible"] and peer["eligible"]

    async def test_explanation_is_stored_and_adds_up(self, world: World, owner_engine) -> None:
        t = world.t
        await recompute(t, world.posting)
        dev = (await stored(owner_engine, t, employee_id=t.ids[APPLICANT]))[
            (world.posting, t.ids[APPLICANT])
        ]
        e = dev["explanation"]
        comps = {c["name"]: c for c in e["components"]}
        assert set(comps) == {"required", "preferred", "level", "track", "location"}
        assert round(sum(c["weight"] for c in comps.values()), 2) == 100
        assert round(sum(c["contribution"] for c in comps.values()), 2) == dev["score"]
        # Python 4 of 4 (weight 4), Leadership 2 of 3 (weight 3), the credential held (1)
        assert comps["required"]["fraction"] == 0.875
        assert comps["preferred"]["fraction"] == 0  # SQL missing
        assert comps["level"]["fraction"] == 1 and e["level_step"] == "up"
        assert comps["track"]["note"] == "your development plan targets this level"
        assert comps["location"]["note"] == "at your location"
        states = {(s["skill_id"], s["required"]): s["state"] for s in e["skills"]}
        sk = world.skills
        assert states == {
            (str(sk["Python"]), True): "met",
            (str(sk["Leadership"]), True): "partial",
            (str(sk["SQL"]), False): "missing",
        }
        assert [c["state"] for c in e["credentials"]] == ["held"]

    async def test_colleague_is_lateral_and_elsewhere(self, world: World, owner_engine) -> None:
        t = world.t
        await recompute(t, world.posting)
        peer = (await stored(owner_engine, t, employee_id=t.ids[COLLEAGUE]))[
            (world.posting, t.ids[COLLEAGUE])
        ]
        e = peer["explanation"]
        assert e["level_step"] == "lateral"
        comps = {c["name"]: c for c in e["components"]}
        assert comps["location"]["fraction"] == 0  # Berlin, on site in Austin, not relocating
        assert [c["state"] for c in e["credentials"]] == ["missing"]

    async def test_replaces_previous_rows(self, world: World, owner_engine) -> None:
        t = world.t
        await recompute(t, world.posting)
        await prefs(owner_engine, t, COLLEAGUE, "no")
        assert await recompute(t, world.posting) == 1
        assert {e for _, e in await stored(owner_engine, t)} == {t.ids[APPLICANT]}

    async def test_ineligible_stored_with_reasons(self, world: World, owner_engine) -> None:
        t = world.t
        pid = await make_posting(owner_engine, t, min_months_in_role=240)
        await recompute(t, pid)
        got = await stored(owner_engine, t, posting_id=pid)
        dev = got[(pid, t.ids[APPLICANT])]
        assert not dev["eligible"]
        assert dev["explanation"]["reasons"][0].startswith("needs 240 months in current role")

    async def test_closed_posting_loses_its_rows(self, world: World, owner_engine) -> None:
        t = world.t
        await recompute(t, world.posting)
        async with owner_engine.begin() as conn:
            await conn.execute(
                sa.text("update job_postings set status = 'closed' where id = :p"),
                {"p": world.posting},
            )
        assert await recompute(t, world.posting) == 0
        assert await stored(owner_engine, t) == {}

    async def test_drop_posting(self, world: World, owner_engine) -> None:
        t = world.t
        await recompute(t, world.posting)
        async with tenant_session(t.id) as s:
            assert await matching.drop_posting(s, system(t), world.posting) == 2
        assert await stored(owner_engine, t) == {}

    async def test_unknown_and_foreign_posting_not_found(self, world: World, make_tenant) -> None:
        other = await make_tenant(org())
        from upward.errors import NotFound

        for t, pid in ((world.t, uuid.uuid4()), (other, world.posting)):
            with pytest.raises(NotFound):
                await recompute(t, pid)

    async def test_statements_do_not_grow_with_people(
        self, world: World, owner_engine, count_statements
    ) -> None:
        t = world.t
        count_statements.statements.clear()
        assert await recompute(t, world.posting) == 2
        small = count_statements.count
        for e in EXTRA:
            await prefs(owner_engine, t, e, "yes")
        count_statements.statements.clear()
        assert await recompute(t, world.posting) == 2 + len(EXTRA)
        assert count_statements.count == small, count_statements.statements


class TestRecomputePeople:
    async def test_only_these_people_every_open_posting(self, world: World, owner_engine) -> None:
        t = world.t
        await recompute(t, world.posting)
        before = await stored(owner_engine, t, employee_id=t.ids[COLLEAGUE])
        second = await make_posting(owner_engine, t, title="Gigless role")
        await make_posting(owner_engine, t, title="Draft", status="draft")
        assert await recompute_people(t, [APPLICANT]) == 2
        got = await stored(owner_engine, t)
        assert {p for p, e in got if e == t.ids[APPLICANT]} == {world.posting, second}
        # the colleague's row was not touched
        assert await stored(owner_engine, t, employee_id=t.ids[COLLEAGUE]) == before

    async def test_a_new_skill_raises_the_score(self, world: World, owner_engine) -> None:
        t = world.t
        await recompute(t, world.posting)
        key = (world.posting, t.ids[COLLEAGUE])
        old = (await stored(owner_engine, t))[key]["score"]
        async with owner_engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "insert into employee_skills (tenant_id, employee_id, skill_id, proficiency, "
                    "source) values (:t, :e, :s, 3, 'self_assessed')"
                ),
                {"t": t.id, "e": t.ids[COLLEAGUE], "s": world.skills["Leadership"]},
            )
        assert await recompute_people(t, [COLLEAGUE]) == 1
        assert (await stored(owner_engine, t))[key]["score"] > old

    async def test_no_longer_open_loses_rows(self, world: World, owner_engine) -> None:
        t = world.t
        await recompute(t, world.posting)
        await prefs(owner_engine, t, APPLICANT, "no")
        assert await recompute_people(t, [APPLICANT, CURRENT_MANAGER]) == 0
        assert {e for _, e in await stored(owner_engine, t)} == {t.ids[COLLEAGUE]}

    async def test_downward_needs_opt_in(self, world: World, owner_engine) -> None:
        t = world.t
        junior = await make_posting(
            owner_engine, t, title="Engineer", level_id=world.levels["Engineer"]
        )
        await recompute_people(t, [COLLEAGUE])
        assert (junior, t.ids[COLLEAGUE]) not in await stored(owner_engine, t)
        await prefs(owner_engine, t, COLLEAGUE, "confidential", open_to_downward=True)
        await recompute_people(t, [COLLEAGUE])
        row = (await stored(owner_engine, t))[(junior, t.ids[COLLEAGUE])]
        assert row["explanation"]["level_step"] == "down"

    async def test_statements_do_not_grow_with_postings(
        self, world: World, owner_engine, count_statements
    ) -> None:
        t = world.t
        count_statements.statements.clear()
        await recompute_people(t, [APPLICANT, COLLEAGUE])
        small = count_statements.count
        for i in range(4):
            await make_posting(
                owner_engine, t, title=f"Role {i}", skills=[(world.skills["SQL"], 2, True)]
            )
        for e in EXTRA:
            await prefs(owner_engine, t, e, "yes")
        count_statements.statements.clear()
        assert await recompute_people(t, [APPLICANT, COLLEAGUE, *EXTRA]) == 5 * (2 + len(EXTRA))
        assert count_statements.count == small, count_statements.statements


class TestPostingMatchesQuery:
    async def test_hr_sees_ranked_and_explained(self, gql: GQL, world: World) -> None:
        t = world.t
        await recompute(t, world.posting)
        data = await gql.ok(MATCHES, {"p": pgid(world.posting)}, token=t.token(HR))
        conn = data["postingMatches"]
        assert conn["totalCount"] == 2
        nodes = [e["node"] for e in conn["edges"]]
        assert [n["employee"]["email"] for n in nodes] == [APPLICANT, COLLEAGUE]
        dev, peer = nodes
        assert dev["confidential"] is False and peer["confidential"] is True
        ex = dev["explanation"]
        assert ex["levelStep"] == "UP"
        assert round(sum(c["contribution"] for c in ex["components"]), 2) == dev["score"]
        assert ex["matchedSkills"] == [
            {"skill": {"name": "Python"}, "minProficiency": 4, "proficiency": 4, "gap": 0,
             "required": True}
        ]  # fmt: skip
        assert ex["partialSkills"] == [
            {"skill": {"name": "Leadership"}, "minProficiency": 3, "proficiency": 2, "gap": 1}
        ]
        assert ex["missingSkills"] == [{"skill": {"name": "SQL"}, "required": False}]
        assert ex["credentials"][0]["credentialType"] == {"name": "Cloud Cert"}
        assert ex["credentials"][0]["state"] == "HELD"
        assert peer["explanation"]["missingCredentials"] == [{"state": "MISSING"}]

    async def test_hiring_manager_sees_confidential_people(self, gql: GQL, world: World) -> None:
        t = world.t
        await recompute(t, world.posting)
        data = await gql.ok(MATCHES, {"p": pgid(world.posting)}, token=t.token(HIRING))
        emails = [e["node"]["employee"]["email"] for e in data["postingMatches"]["edges"]]
        assert emails == [APPLICANT, COLLEAGUE]

    async def test_others_get_not_found_like_a_ghost(self, gql: GQL, world: World) -> None:
        t = world.t
        await recompute(t, world.posting)
        ghost = await gql(MATCHES, {"p": pgid(uuid.uuid4())}, token=t.token(HR))
        assert only_error(ghost)["extensions"] == {"code": "NOT_FOUND", "field": "postingId"}
        for who in (CURRENT_MANAGER, APPLICANT, COLLEAGUE):
            body = await gql(MATCHES, {"p": pgid(world.posting)}, token=t.token(who))
            mine = await gql(MATCHES, {"p": pgid(uuid.uuid4())}, token=t.token(who))
            assert body == mine == ghost, who

    async def test_other_tenant_cannot_reach(self, gql: GQL, world: World, make_tenant) -> None:
        other = await make_tenant(org())
        await recompute(world.t, world.posting)
        foreign = await gql(MATCHES, {"p": pgid(world.posting)}, token=other.token(HR))
        ghost = await gql(MATCHES, {"p": pgid(uuid.uuid4())}, token=other.token(HR))
        assert foreign == ghost
        assert only_error(foreign)["extensions"]["code"] == "NOT_FOUND"

    async def test_pages_by_cursor(self, gql: GQL, world: World, owner_engine) -> None:
        t = world.t
        for e in EXTRA:
            await prefs(owner_engine, t, e, "yes")
        await recompute(t, world.posting)
        tok = t.token(HR)
        everyone = await gql.ok(MATCHES, {"p": pgid(world.posting), "n": 100}, token=tok)
        want = [
            (e["node"]["score"], e["node"]["employee"]["email"])
            for e in everyone["postingMatches"]["edges"]
        ]
        assert len(want) == 2 + len(EXTRA)
        scores = [s for s, _ in want]
        assert scores == sorted(scores, reverse=True)
        got, after = [], None
        while True:
            page = (
                await gql.ok(MATCHES, {"p": pgid(world.posting), "n": 3, "a": after}, token=tok)
            )["postingMatches"]
            got += [(e["node"]["score"], e["node"]["employee"]["email"]) for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert got == want

    async def test_people_no_longer_open_are_hidden(
        self, gql: GQL, world: World, owner_engine
    ) -> None:
        t = world.t
        await recompute(t, world.posting)
        await prefs(owner_engine, t, COLLEAGUE, "no")  # before the workers recompute
        data = await gql.ok(MATCHES, {"p": pgid(world.posting)}, token=t.token(HR))
        assert [e["node"]["employee"]["email"] for e in data["postingMatches"]["edges"]] == [
            APPLICANT
        ]
        assert data["postingMatches"]["totalCount"] == 1

    async def test_statements_are_constant(
        self, gql: GQL, world: World, owner_engine, count_statements
    ) -> None:
        t = world.t
        for e in EXTRA:
            await prefs(owner_engine, t, e, "yes")
        await recompute(t, world.posting)
        tok = t.token(HIRING)
        count_statements.statements.clear()
        await gql.ok(MATCHES, {"p": pgid(world.posting), "n": 1}, token=tok)
        small = count_statements.count
        count_statements.statements.clear()
        await gql.ok(MATCHES, {"p": pgid(world.posting), "n": 100}, token=tok)
        assert count_statements.count == small, count_statements.statements


class TestRecommendedPostings:
    async def test_ranked_for_the_viewer(self, gql: GQL, world: World, owner_engine) -> None:
        t = world.t
        other = await make_posting(
            owner_engine, t, title="Python role", skills=[(world.skills["Python"], 2, True)]
        )
        await recompute_people(t, [APPLICANT])
        data = await gql.ok(RECOMMENDED, {}, token=t.token(APPLICANT))
        rec = data["recommendedPostings"]
        assert rec["hint"] is None and rec["openToMoves"] == "YES" and rec["totalCount"] == 2
        titles = [e["node"]["posting"]["title"] for e in rec["edges"]]
        assert set(titles) == {"Senior Engineer, Payments", "Python role"}
        scores = [e["node"]["score"] for e in rec["edges"]]
        assert scores == sorted(scores, reverse=True)
        first = next(
            e["node"] for e in rec["edges"] if e["node"]["posting"]["id"] == pgid(world.posting)
        )
        assert first["explanation"]["missingSkills"] == [{"skill": {"name": "SQL"}}]
        assert first["explanation"]["matchedSkills"] == [{"skill": {"name": "Python"}}]
        assert other

    async def test_not_open_gets_empty_with_hint(self, gql: GQL, world: World) -> None:
        t = world.t
        await recompute(t, world.posting)
        for who in (CURRENT_MANAGER, HR):
            rec = (await gql.ok(RECOMMENDED, {}, token=t.token(who)))["recommendedPostings"]
            assert rec["edges"] == [] and rec["totalCount"] == 0
            assert rec["openToMoves"] == "NO" and "open to moves" in rec["hint"]

    async def test_ineligible_and_invisible_are_left_out(
        self, gql: GQL, world: World, owner_engine
    ) -> None:
        t = world.t
        await make_posting(owner_engine, t, title="Long tenure", min_months_in_role=240)
        await make_posting(
            owner_engine, t, title="People only", visible_department_ids=[t.departments["People"]]
        )
        await make_posting(owner_engine, t, title="Draft", status="draft")
        await recompute_people(t, [APPLICANT])
        rec = (await gql.ok(RECOMMENDED, {}, token=t.token(APPLICANT)))["recommendedPostings"]
        assert [e["node"]["posting"]["title"] for e in rec["edges"]] == [
            "Senior Engineer, Payments"
        ]

    async def test_pages_and_statements(
        self, gql: GQL, world: World, owner_engine, count_statements
    ) -> None:
        t = world.t
        for i in range(4):
            await make_posting(
                owner_engine, t, title=f"Role {i}", skills=[(world.skills["Python"], i + 1, True)]
            )
        await recompute_people(t, [APPLICANT])
        tok = t.token(APPLICANT)
        count_statements.statements.clear()
        one = (await gql.ok(RECOMMENDED, {"n": 1}, token=tok))["recommendedPostings"]
        small = count_statements.count
        count_statements.statements.clear()
        every = (await gql.ok(RECOMMENDED, {"n": 100}, token=tok))["recommendedPostings"]
        assert count_statements.count == small, "\n".join(
            s[:150] for s in count_statements.statements
        )
        assert len(every["edges"]) == 5 and one["pageInfo"]["hasNextPage"]
        rest = (
            await gql.ok(RECOMMENDED, {"n": 100, "a": one["pageInfo"]["endCursor"]}, token=tok)
        )["recommendedPostings"]
        assert [e["node"]["posting"]["title"] for e in one["edges"] + rest["edges"]] == [
            e["node"]["posting"]["title"] for e in every["edges"]
        ]

    async def test_confidential_viewer_sees_theirs(self, gql: GQL, world: World) -> None:
        t = world.t
        await recompute(t, world.posting)
        rec = (await gql.ok(RECOMMENDED, {}, token=t.token(COLLEAGUE)))["recommendedPostings"]
        assert rec["openToMoves"] == "CONFIDENTIAL"
        assert [e["node"]["posting"]["id"] for e in rec["edges"]] == [pgid(world.posting)]
