"""Editing career tracks through HTTP: tracks, levels and their positions, expectations,
lateral links; errors naming the field, permissions, audit, isolation."""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, SMALL_ORG, TenantInfo, only_error
from upward.graphql.relay import to_global_id

CREATE = """mutation($i: CreateCareerTrackInput!) {
  createCareerTrack(input: $i) { id name description status levels { title } } }"""
UPDATE = """mutation($id: ID!, $i: UpdateCareerTrackInput!) {
  updateCareerTrack(id: $id, input: $i) { id name description status } }"""
ADD = """mutation($t: ID!, $i: AddTrackLevelInput!) {
  addTrackLevel(trackId: $t, input: $i) {
    id title position jobLevel typicalMonths description trackName } }"""
EDIT = """mutation($id: ID!, $i: UpdateTrackLevelInput!) {
  updateTrackLevel(id: $id, input: $i) { id title position jobLevel typicalMonths } }"""
REMOVE = """mutation($id: ID!) { removeTrackLevel(id: $id) { name levels { title position } } }"""
EXPECT = """mutation($l: ID!, $s: [ExpectedSkillInput!]!, $c: [ID!]!) {
  setLevelExpectations(levelId: $l, skills: $s, credentialTypeIds: $c) {
    title expectedSkills { skill { name } minProficiency } requiredCredentialTypes { name } } }"""
LINK = """mutation($a: ID!, $b: ID!, $both: Boolean! = false) {
  linkLevels(fromLevelId: $a, toLevelId: $b, bothWays: $both) {
    title lateralMoves { title trackName } } }"""
UNLINK = """mutation($a: ID!, $b: ID!, $both: Boolean! = false) {
  unlinkLevels(fromLevelId: $a, toLevelId: $b, bothWays: $both) {
    title lateralMoves { title trackName } } }"""
TRACKS = """query($r: Boolean! = false) { careerTracks(includeRetired: $r) {
  id name status levels { id title position lateralMoves { title } } } }"""
PATHS = """query($e: ID!, $l: ID!) { careerPaths(employeeId: $e, targetLevelId: $l) {
  steps { level { title } } } }"""


def _org() -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    o["skills"] = [
        {"name": "Welding", "category": "trades"},
        {"name": "Blueprints", "category": "trades"},
        {"name": "Old craft", "category": "trades", "status": "retired"},
    ]
    o["credential_types"] = [{"name": "Forklift", "category": "license"}]
    return o


@pytest.fixture
async def t(make_tenant: Any) -> TenantInfo:
    return await make_tenant(_org())


async def _ids(engine: AsyncEngine, t: TenantInfo, table: str) -> dict[str, uuid.UUID]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text(f"select name, id from {table} where tenant_id = :t"),
                {"t": t.id},
            )
        ).all()
    return {r[0]: r[1] for r in rows}


async def _audit(engine: AsyncEngine, t: TenantInfo, prefix: str) -> list[tuple[str, Any]]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text(
                    "select action, changes from audit_events where tenant_id = :t "
                    "and action like :p order by occurred_at, id"
                ),
                {"t": t.id, "p": prefix + "%"},
            )
        ).all()
    return [(r[0], r[1]) for r in rows]


async def _track(
    gql: GQL, t: TenantInfo, name: str = "Trades", titles: tuple[str, ...] = ()
) -> Any:
    hr = t.token("hr@t.example")
    track = (await gql.ok(CREATE, {"i": {"name": name}}, token=hr))["createCareerTrack"]
    levels = []
    for title in titles:
        got = await gql.ok(ADD, {"t": track["id"], "i": {"title": title}}, token=hr)
        levels.append(got["addTrackLevel"])
    return track, levels


async def _levels(gql: GQL, t: TenantInfo, name: str = "Trades") -> list[tuple[str, int]]:
    tracks = (await gql.ok(TRACKS, {"r": True}, token=t.token("hr@t.example")))["careerTracks"]
    track = next(tr for tr in tracks if tr["name"] == name)
    return [(lv["title"], lv["position"]) for lv in track["levels"]]


class TestTracks:
    async def test_create_update_retire_and_audit(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        hr = t.token("hr@t.example")
        got = (
            await gql.ok(CREATE, {"i": {"name": " Trades ", "description": "Shop floor"}}, token=hr)
        )["createCareerTrack"]
        assert got["name"] == "Trades" and got["status"] == "ACTIVE" and got["levels"] == []
        upd = (
            await gql.ok(
                UPDATE,
                {"id": got["id"], "i": {"name": "Skilled trades", "description": None}},
                token=hr,
            )
        )["updateCareerTrack"]
        assert upd == {
            "id": got["id"],
            "name": "Skilled trades",
            "description": None,
            "status": "ACTIVE",
        }
        retired = (await gql.ok(UPDATE, {"id": got["id"], "i": {"status": "RETIRED"}}, token=hr))[
            "updateCareerTrack"
        ]
        assert retired["status"] == "RETIRED"
        assert (await gql.ok(TRACKS, token=hr))["careerTracks"] == []
        listed = (await gql.ok(TRACKS, {"r": True}, token=hr))["careerTracks"]
        assert [(tr["name"], tr["status"]) for tr in listed] == [("Skilled trades", "RETIRED")]
        actions = await _audit(owner_engine, t, "career_track.")
        assert [a for a, _ in actions] == [
            "career_track.create",
            "career_track.update",
            "career_track.update",
        ]
        assert actions[1][1]["name"] == {"from": "Trades", "to": "Skilled trades"}
        assert actions[2][1] == {"status": {"from": "active", "to": "retired"}}
        # the same values again: nothing changes, nothing audited
        await gql.ok(UPDATE, {"id": got["id"], "i": {"status": "RETIRED"}}, token=hr)
        assert len(await _audit(owner_engine, t, "career_track.")) == 3

    async def test_names_are_unique_whatever_the_case(self, gql: GQL, t: TenantInfo) -> None:
        hr = t.token("hr@t.example")
        await gql.ok(CREATE, {"i": {"name": "Trades"}}, token=hr)
        err = only_error(await gql(CREATE, {"i": {"name": "TRADES"}}, token=hr))
        assert err["extensions"] == {"code": "CONFLICT", "field": "input.name"}
        other = (await gql.ok(CREATE, {"i": {"name": "Office"}}, token=hr))["createCareerTrack"]
        err = only_error(await gql(UPDATE, {"id": other["id"], "i": {"name": "trades"}}, token=hr))
        assert err["extensions"] == {"code": "CONFLICT", "field": "input.name"}

    async def test_concurrent_creates_of_one_name_give_one_track(
        self, gql: GQL, t: TenantInfo
    ) -> None:
        hr = t.token("hr@t.example")
        bodies = await asyncio.gather(
            *(gql(CREATE, {"i": {"name": "Racing"}}, token=hr) for _ in range(3))
        )
        ok = [b for b in bodies if not b.get("errors")]
        assert len(ok) == 1
        for b in bodies:
            if b.get("errors"):
                assert only_error(b)["extensions"] == {"code": "CONFLICT", "field": "input.name"}

    async def test_bad_input_names_the_field(self, gql: GQL, t: TenantInfo) -> None:
        hr = t.token("hr@t.example")
        err = only_error(await gql(CREATE, {"i": {"name": "  "}}, token=hr))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.name"}
        err = only_error(await gql(CREATE, {"i": {"name": "x", "description": "a\x00"}}, token=hr))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.description"}
        track = (await gql.ok(CREATE, {"i": {"name": "T"}}, token=hr))["createCareerTrack"]
        err = only_error(await gql(UPDATE, {"id": track["id"], "i": {"status": None}}, token=hr))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.status"}
        ghost = to_global_id("CareerTrack", uuid.uuid4())
        err = only_error(await gql(UPDATE, {"id": ghost, "i": {"name": "Y"}}, token=hr))
        assert err["extensions"] == {"code": "NOT_FOUND", "field": "id"}


class TestLevels:
    async def test_add_at_positions_shifts_the_rest(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        hr = t.token("hr@t.example")
        track, levels = await _track(gql, t, titles=("Apprentice", "Master"))
        assert [(lv["title"], lv["position"], lv["trackName"]) for lv in levels] == [
            ("Apprentice", 1, "Trades"),
            ("Master", 2, "Trades"),
        ]
        mid = (
            await gql.ok(
                ADD,
                {
                    "t": track["id"],
                    "i": {
                        "title": "Journeyman",
                        "position": 2,
                        "jobLevel": "T2",
                        "typicalMonths": 36,
                        "description": "Works alone",
                    },
                },
                token=hr,
            )
        )["addTrackLevel"]
        assert mid["position"] == 2 and mid["jobLevel"] == "T2" and mid["typicalMonths"] == 36
        first = (
            await gql.ok(ADD, {"t": track["id"], "i": {"title": "Helper", "position": 1}}, token=hr)
        )["addTrackLevel"]
        assert first["position"] == 1
        assert await _levels(gql, t) == [
            ("Helper", 1),
            ("Apprentice", 2),
            ("Journeyman", 3),
            ("Master", 4),
        ]
        actions = await _audit(owner_engine, t, "track_level.")
        assert [a for a, _ in actions] == ["track_level.add"] * 4
        assert actions[2][1]["title"] == {"from": None, "to": "Journeyman"}
        assert actions[2][1]["position"] == {"from": None, "to": 2}

    async def test_move_and_edit(self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine) -> None:
        hr = t.token("hr@t.example")
        _, levels = await _track(gql, t, titles=("A", "B", "C", "D"))
        moved = (await gql.ok(EDIT, {"id": levels[3]["id"], "i": {"position": 1}}, token=hr))[
            "updateTrackLevel"
        ]
        assert moved["position"] == 1
        assert await _levels(gql, t) == [("D", 1), ("A", 2), ("B", 3), ("C", 4)]
        await gql.ok(EDIT, {"id": levels[0]["id"], "i": {"position": 4}}, token=hr)
        assert await _levels(gql, t) == [("D", 1), ("B", 2), ("C", 3), ("A", 4)]
        got = (
            await gql.ok(
                EDIT,
                {
                    "id": levels[1]["id"],
                    "i": {"title": "Bee", "jobLevel": "B1", "typicalMonths": 0},
                },
                token=hr,
            )
        )["updateTrackLevel"]
        assert got == {
            "id": levels[1]["id"],
            "title": "Bee",
            "position": 2,
            "jobLevel": "B1",
            "typicalMonths": 0,
        }
        changes = [c for a, c in await _audit(owner_engine, t, "track_level.update")]
        assert changes[0] == {"position": {"from": 4, "to": 1}}
        assert changes[2]["title"] == {"from": "B", "to": "Bee"}

    async def test_level_errors_name_the_field(self, gql: GQL, t: TenantInfo) -> None:
        hr = t.token("hr@t.example")
        track, levels = await _track(gql, t, titles=("A", "B"))
        cases = [
            (ADD, {"t": track["id"], "i": {"title": ""}}, "BAD_USER_INPUT", "input.title"),
            (ADD, {"t": track["id"], "i": {"title": "a"}}, "CONFLICT", "input.title"),
            (ADD, {"t": track["id"], "i": {"title": "X", "position": 4}}, "BAD_USER_INPUT",
             "input.position"),
            (ADD, {"t": track["id"], "i": {"title": "X", "position": 0}}, "BAD_USER_INPUT",
             "input.position"),
            (ADD, {"t": track["id"], "i": {"title": "X", "typicalMonths": 601}},
             "BAD_USER_INPUT", "input.typicalMonths"),
            (ADD, {"t": track["id"], "i": {"title": "X", "jobLevel": "x" * 51}},
             "BAD_USER_INPUT", "input.jobLevel"),
            (ADD, {"t": to_global_id("CareerTrack", uuid.uuid4()), "i": {"title": "X"}},
             "NOT_FOUND", "trackId"),
            (ADD, {"t": levels[0]["id"], "i": {"title": "X"}}, "BAD_USER_INPUT", "trackId"),
            (EDIT, {"id": levels[0]["id"], "i": {"position": 3}}, "BAD_USER_INPUT",
             "input.position"),
            (EDIT, {"id": levels[0]["id"], "i": {"position": None}}, "BAD_USER_INPUT",
             "input.position"),
            (EDIT, {"id": levels[0]["id"], "i": {"title": "B"}}, "CONFLICT", "input.title"),
            (EDIT, {"id": levels[0]["id"], "i": {"typicalMonths": -1}}, "BAD_USER_INPUT",
             "input.typicalMonths"),
            (EDIT, {"id": to_global_id("TrackLevel", uuid.uuid4()), "i": {"title": "Q"}},
             "NOT_FOUND", "id"),
        ]  # fmt: skip
        for query, variables, code, field in cases:
            err = only_error(await gql(query, variables, token=hr))
            assert err["extensions"] == {"code": code, "field": field}, (variables, err)
        assert await _levels(gql, t) == [("A", 1), ("B", 2)]  # nothing changed

    async def test_remove_shifts_down_and_refuses_a_level_people_are_at(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        hr = t.token("hr@t.example")
        _, levels = await _track(gql, t, titles=("A", "B", "C"))
        place = (
            "mutation($e: ID!, $l: ID!) { placeEmployee(employeeId: $e, levelId: $l) { since } }"
        )
        await gql.ok(place, {"e": t.gid("dev@t.example"), "l": levels[1]["id"]}, token=hr)
        err = only_error(await gql(REMOVE, {"id": levels[1]["id"]}, token=hr))
        assert err["extensions"] == {"code": "CONFLICT", "field": "id"}
        assert "1 people are placed" in err["message"]
        got = (await gql.ok(REMOVE, {"id": levels[0]["id"]}, token=hr))["removeTrackLevel"]
        assert got == {"name": "Trades", "levels": [{"title": "B", "position": 1},
                                                   {"title": "C", "position": 2}]}  # fmt: skip
        err = only_error(await gql(REMOVE, {"id": levels[0]["id"]}, token=hr))
        assert err["extensions"] == {"code": "NOT_FOUND", "field": "id"}
        removed = await _audit(owner_engine, t, "track_level.remove")
        assert len(removed) == 1 and removed[0][1]["title"] == {"from": "A", "to": None}

    async def test_concurrent_inserts_keep_positions_unique(self, gql: GQL, t: TenantInfo) -> None:
        hr = t.token("hr@t.example")
        track, _ = await _track(gql, t, titles=("A", "B"))
        bodies = await asyncio.gather(
            *(
                gql(ADD, {"t": track["id"], "i": {"title": f"N{i}", "position": 1}}, token=hr)
                for i in range(4)
            )
        )
        assert all(not b.get("errors") for b in bodies), bodies
        got = await _levels(gql, t)
        assert [p for _, p in got] == [1, 2, 3, 4, 5, 6]
        assert [n for n, _ in got][-2:] == ["A", "B"]


class TestExpectations:
    async def test_replace_sets_and_audit(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        hr = t.token("hr@t.example")
        _, levels = await _track(gql, t, titles=("A",))
        skills = await _ids(owner_engine, t, "skills")
        types = await _ids(owner_engine, t, "credential_types")
        welding, prints = (
            to_global_id("Skill", skills["Welding"]),
            to_global_id("Skill", skills["Blueprints"]),
        )
        forklift = to_global_id("CredentialType", types["Forklift"])
        got = (
            await gql.ok(
                EXPECT,
                {
                    "l": levels[0]["id"],
                    "s": [
                        {"skillId": welding, "minProficiency": 3},
                        {"skillId": prints, "minProficiency": 2},
                    ],
                    "c": [forklift],
                },
                token=hr,
            )
        )["setLevelExpectations"]
        assert got["expectedSkills"] == [
            {"skill": {"name": "Blueprints"}, "minProficiency": 2},
            {"skill": {"name": "Welding"}, "minProficiency": 3},
        ]
        assert got["requiredCredentialTypes"] == [{"name": "Forklift"}]
        again = (
            await gql.ok(
                EXPECT,
                {"l": levels[0]["id"], "s": [{"skillId": welding, "minProficiency": 4}], "c": []},
                token=hr,
            )
        )["setLevelExpectations"]
        assert again["expectedSkills"] == [{"skill": {"name": "Welding"}, "minProficiency": 4}]
        assert again["requiredCredentialTypes"] == []
        changes = [c for _, c in await _audit(owner_engine, t, "track_level.set_expectations")]
        assert len(changes) == 2
        assert changes[1]["credential_types"] == {"from": [str(types["Forklift"])], "to": []}

    async def test_errors_name_the_item(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        hr = t.token("hr@t.example")
        _, levels = await _track(gql, t, titles=("A",))
        skills = await _ids(owner_engine, t, "skills")
        w = to_global_id("Skill", skills["Welding"])
        old = to_global_id("Skill", skills["Old craft"])
        lv = levels[0]["id"]
        cases = [
            ({"s": [{"skillId": w, "minProficiency": 6}], "c": []}, "BAD_USER_INPUT",
             "skills.0.minProficiency"),
            ({"s": [{"skillId": w, "minProficiency": 0}], "c": []}, "BAD_USER_INPUT",
             "skills.0.minProficiency"),
            ({"s": [{"skillId": w, "minProficiency": 2}, {"skillId": w, "minProficiency": 3}],
              "c": []}, "BAD_USER_INPUT", "skills.1.skillId"),
            ({"s": [{"skillId": old, "minProficiency": 2}], "c": []}, "BAD_USER_INPUT",
             "skills.0.skillId"),
            ({"s": [{"skillId": to_global_id("Skill", uuid.uuid4()), "minProficiency": 2}],
              "c": []}, "NOT_FOUND", "skills.0.skillId"),
            ({"s": [], "c": [to_global_id("CredentialType", uuid.uuid4())]}, "NOT_FOUND",
             "credentialTypeIds.0"),
            ({"s": [], "c": [w]}, "BAD_USER_INPUT", "credentialTypeIds.0"),
        ]  # fmt: skip
        for variables, code, field in cases:
            err = only_error(await gql(EXPECT, {"l": lv, **variables}, token=hr))
            assert err["extensions"] == {"code": code, "field": field}, (variables, err)
        assert await _audit(owner_engine, t, "track_level.set_expectations") == []


class TestLinks:
    async def test_link_both_ways_unlink_and_paths(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        hr = t.token("hr@t.example")
        _, ic = await _track(gql, t, "IC", ("Engineer", "Senior engineer"))
        _, mgmt = await _track(gql, t, "Management", ("Manager", "Director"))
        got = (await gql.ok(LINK, {"a": ic[1]["id"], "b": mgmt[0]["id"], "both": True}, token=hr))[
            "linkLevels"
        ]
        assert got["lateralMoves"] == [{"title": "Manager", "trackName": "Management"}]
        again = await gql.ok(LINK, {"a": ic[1]["id"], "b": mgmt[0]["id"]}, token=hr)
        assert again["linkLevels"]["lateralMoves"] == got["lateralMoves"]  # no duplicate
        place = (
            "mutation($e: ID!, $l: ID!) { placeEmployee(employeeId: $e, levelId: $l) { since } }"
        )
        await gql.ok(place, {"e": t.gid("dev@t.example"), "l": ic[0]["id"]}, token=hr)
        paths = (await gql.ok(PATHS, {"e": t.gid("dev@t.example"), "l": mgmt[1]["id"]}, token=hr))[
            "careerPaths"
        ]
        assert [s["level"]["title"] for s in paths[0]["steps"]] == [
            "Engineer",
            "Senior engineer",
            "Manager",
            "Director",
        ]
        back = (await gql.ok(UNLINK, {"a": mgmt[0]["id"], "b": ic[1]["id"]}, token=hr))[
            "unlinkLevels"
        ]
        assert back["lateralMoves"] == []
        err = only_error(await gql(UNLINK, {"a": mgmt[0]["id"], "b": ic[1]["id"]}, token=hr))
        assert err["extensions"] == {"code": "NOT_FOUND", "field": "toLevelId"}
        await gql.ok(UNLINK, {"a": ic[1]["id"], "b": mgmt[0]["id"]}, token=hr)
        paths = (await gql.ok(PATHS, {"e": t.gid("dev@t.example"), "l": mgmt[1]["id"]}, token=hr))[
            "careerPaths"
        ]
        assert paths == []
        actions = [a for a, _ in await _audit(owner_engine, t, "track_level.")]
        assert actions.count("track_level.link") == 1  # the repeat changed nothing
        assert actions.count("track_level.unlink") == 2

    async def test_no_self_link_nor_within_a_track(self, gql: GQL, t: TenantInfo) -> None:
        hr = t.token("hr@t.example")
        _, ic = await _track(gql, t, "IC", ("Engineer", "Senior engineer"))
        err = only_error(await gql(LINK, {"a": ic[0]["id"], "b": ic[0]["id"]}, token=hr))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "toLevelId"}
        err = only_error(await gql(LINK, {"a": ic[0]["id"], "b": ic[1]["id"]}, token=hr))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "toLevelId"}
        ghost = to_global_id("TrackLevel", uuid.uuid4())
        err = only_error(await gql(LINK, {"a": ghost, "b": ic[1]["id"]}, token=hr))
        assert err["extensions"] == {"code": "NOT_FOUND", "field": "fromLevelId"}


class TestPermissionsAndIsolation:
    async def test_employees_and_managers_are_forbidden(self, gql: GQL, t: TenantInfo) -> None:
        track, levels = await _track(gql, t, titles=("A",))
        mutations = [
            (CREATE, {"i": {"name": "Mine"}}),
            (UPDATE, {"id": track["id"], "i": {"name": "Mine"}}),
            (ADD, {"t": track["id"], "i": {"title": "B"}}),
            (EDIT, {"id": levels[0]["id"], "i": {"title": "Z"}}),
            (REMOVE, {"id": levels[0]["id"]}),
            (EXPECT, {"l": levels[0]["id"], "s": [], "c": []}),
            (LINK, {"a": levels[0]["id"], "b": levels[0]["id"]}),
            (UNLINK, {"a": levels[0]["id"], "b": levels[0]["id"]}),
        ]
        for email in ("dev@t.example", "lead@t.example", "boss@t.example"):
            for query, variables in mutations:
                err = only_error(await gql(query, variables, token=t.token(email)))
                assert err["extensions"]["code"] == "FORBIDDEN", (email, query)
        assert await _levels(gql, t) == [("A", 1)]
        # a tenant admin may
        await gql.ok(ADD, {"t": track["id"], "i": {"title": "B"}}, token=t.token("admin@t.example"))

    async def test_another_tenants_ids_are_not_found(
        self, gql: GQL, t: TenantInfo, acme: TenantInfo
    ) -> None:
        theirs = (await gql.ok(TRACKS, token=acme.token("hr@acme.example")))["careerTracks"]
        their_track, their_level = theirs[0]["id"], theirs[0]["levels"][0]["id"]
        _, mine = await _track(gql, t, "Mine", ("A",))
        _, other = await _track(gql, t, "Other", ("B",))
        hr = t.token("hr@t.example")
        pairs = [
            (UPDATE, {"id": their_track, "i": {"name": "Taken"}},
             {"id": to_global_id("CareerTrack", uuid.uuid4()), "i": {"name": "Taken"}}),
            (ADD, {"t": their_track, "i": {"title": "X"}},
             {"t": to_global_id("CareerTrack", uuid.uuid4()), "i": {"title": "X"}}),
            (EDIT, {"id": their_level, "i": {"title": "X"}},
             {"id": to_global_id("TrackLevel", uuid.uuid4()), "i": {"title": "X"}}),
            (REMOVE, {"id": their_level}, {"id": to_global_id("TrackLevel", uuid.uuid4())}),
            (EXPECT, {"l": their_level, "s": [], "c": []},
             {"l": to_global_id("TrackLevel", uuid.uuid4()), "s": [], "c": []}),
            (LINK, {"a": mine[0]["id"], "b": their_level},
             {"a": mine[0]["id"], "b": to_global_id("TrackLevel", uuid.uuid4())}),
            (UNLINK, {"a": their_level, "b": other[0]["id"]},
             {"a": to_global_id("TrackLevel", uuid.uuid4()), "b": other[0]["id"]}),
        ]  # fmt: skip
        for query, foreign, ghost in pairs:
            got, want = await gql(query, foreign, token=hr), await gql(query, ghost, token=hr)
            assert got["errors"][0]["extensions"]["code"] == "NOT_FOUND"
            assert got == want
        # acme's ladders are as they were
        assert (await gql.ok(TRACKS, token=acme.token("hr@acme.example")))["careerTracks"] == theirs


class TestReadinessMany:
    """The batched path (matching, the bench): equal to `readiness_for` one by one, in a
    statement count that does not grow with the number of people."""

    async def test_equals_one_by_one_in_constant_statements(
        self, acme: TenantInfo, count_statements: Any
    ) -> None:
        from datetime import date

        from upward.auth.principal import Principal
        from upward.db import tenant_session
        from upward.development import tracks
        from upward.people.service import Viewer

        p = Principal.system(acme.id, "acme", "Europe/Berlin")
        viewer = Viewer(p)
        on = date(2026, 6, 1)
        async with tenant_session(acme.id) as s:
            nxt = await tracks.next_levels(s, list(acme.ids.values()))
            sam = acme.ids["sam.rivera@acme.example"]
            jordan = acme.ids["jordan.kim@acme.example"]
            assert nxt[sam] is not None and nxt[jordan] is None  # Staff is the top rung
            target = nxt[sam]
            everyone = {e: target for e in acme.ids.values()}
            count_statements.statements.clear()
            two = await tracks.readiness_many(
                s, p, viewer, targets=dict(list(everyone.items())[:2]), on=on
            )
            small = count_statements.count
            count_statements.statements.clear()
            many = await tracks.readiness_many(s, p, viewer, targets=everyone, on=on)
            assert count_statements.count == small, count_statements.statements
            assert len(two) == 2 and len(many) == len(acme.ids) > 10
            for employee_id in acme.ids.values():
                one = await tracks.readiness_for(
                    s, p, viewer, employee_id=employee_id, level_id=target, on=on
                )
                assert _core(many[employee_id]) == _core(one)
            assert many[sam].skills and 0 < many[sam].score < 100
            assert many[sam].time_in_level.months == 21  # since 2024-09-01

    async def test_an_unknown_level_is_not_found_and_others_are_private(
        self, acme: TenantInfo
    ) -> None:
        from upward.auth.principal import Principal
        from upward.db import tenant_session
        from upward.development import tracks
        from upward.errors import Forbidden, NotFound
        from upward.people.service import Viewer

        p = Principal.system(acme.id, "acme", "Europe/Berlin")
        sam = acme.ids["sam.rivera@acme.example"]
        async with tenant_session(acme.id) as s:
            with pytest.raises(NotFound):
                await tracks.readiness_many(s, p, Viewer(p), targets={sam: uuid.uuid4()})
            aisha = Principal(
                tenant_id=acme.id,
                tenant_slug="acme",
                kind="user",
                employee_id=acme.ids["aisha.bello@acme.example"],
            )
            with pytest.raises(Forbidden):
                await tracks.readiness_many(s, aisha, Viewer(aisha), targets={sam: uuid.uuid4()})


def _core(r: Any) -> Any:
    """A readiness without what other parts may attach (suggestions)."""
    return (r.score, r.skills, r.credentials, r.time_in_level)
