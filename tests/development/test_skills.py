"""The skills catalog and the proficiency scale through HTTP; CSV import; manifests."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, SMALL_ORG, TenantInfo, error_codes, only_error
from upward.graphql.relay import to_global_id
from upward.tenancy.manifest import ManifestError, validate_manifest

CREATE = """mutation($i: CreateSkillInput!) {
  createSkill(input: $i) { id name category aliases status parent { name } externalIds { scheme code } }
}"""
UPDATE = """mutation($id: ID!, $i: UpdateSkillInput!) {
  updateSkill(id: $id, input: $i) { id name status parent { name } }
}"""
LIST = """query($f: SkillFilter, $n: Int) {
  skills(filter: $f, first: $n) { totalCount edges { node { name category children { name } } } }
}"""
IMPORT = """mutation($csv: String!, $dry: Boolean!) {
  importSkills(csv: $csv, dryRun: $dry) {
    dryRun created updated unchanged errors rows { row outcome name errors skillId }
  }
}"""


@pytest.fixture
async def t(make_tenant: Any) -> TenantInfo:
    return await make_tenant()


async def _create(gql: GQL, t: TenantInfo, **i: Any) -> dict[str, Any]:
    got = await gql.ok(CREATE, {"i": i}, token=t.token("hr@t.example"))
    return got["createSkill"]


async def test_catalog_tree_validation_and_who_may_change_it(t: TenantInfo, gql: GQL) -> None:
    eng = await _create(gql, t, name="Software engineering", category="engineering")
    py = await _create(
        gql,
        t,
        name="Python",
        category="engineering",
        parentId=eng["id"],
        aliases=["Python 3", "python", "Py"],
        externalIds=[{"scheme": "esco", "code": "http://data.europa.eu/esco/skill/x"}],
    )
    assert py["parent"] == {"name": "Software engineering"}
    assert py["aliases"] == ["Python 3", "Py"]  # the name itself is not an alias
    # everyone reads; only HR and tenant admins write
    err = only_error(
        await gql(CREATE, {"i": {"name": "X", "category": "y"}}, token=t.token("dev@t.example"))
    )
    assert err["extensions"]["code"] == "FORBIDDEN"
    listed = await gql.ok(LIST, {"f": {"rootsOnly": True}, "n": 10}, token=t.token("dev@t.example"))
    assert listed["skills"]["edges"] == [
        {
            "node": {
                "name": "Software engineering",
                "category": "engineering",
                "children": [{"name": "Python"}],
            }
        }
    ]
    found = await gql.ok(LIST, {"f": {"search": "PY"}, "n": 10}, token=t.token("dev@t.example"))
    assert [e["node"]["name"] for e in found["skills"]["edges"]] == ["Python"]
    # names are unique whatever their case; errors name the field and change nothing
    err = only_error(
        await gql(CREATE, {"i": {"name": "PYTHON", "category": "x"}}, token=t.token("hr@t.example"))
    )
    assert err["extensions"] == {"code": "CONFLICT", "field": "input.name"}
    for patch, field in (
        ({"name": " "}, "input.name"),
        ({"parentId": py["id"]}, "input.parentId"),  # its own child: a cycle
        ({"parentId": to_global_id("Skill", uuid.UUID(int=5))}, "input.parentId"),
    ):
        err = only_error(
            await gql(UPDATE, {"id": eng["id"], "i": patch}, token=t.token("hr@t.example"))
        )
        assert err["extensions"]["field"] == field, (patch, err)
    # retire: gone from lists (unless asked), still resolvable by id
    got = await gql.ok(
        UPDATE, {"id": py["id"], "i": {"status": "RETIRED"}}, token=t.token("hr@t.example")
    )
    assert got["updateSkill"]["status"] == "RETIRED"
    listed = await gql.ok(LIST, {"n": 10}, token=t.token("dev@t.example"))
    assert [e["node"]["name"] for e in listed["skills"]["edges"]] == ["Software engineering"]
    listed = await gql.ok(
        LIST, {"f": {"includeRetired": True}, "n": 10}, token=t.token("dev@t.example")
    )
    assert listed["skills"]["totalCount"] == 2
    node = await gql.ok(
        "query($id: ID!) { node(id: $id) { ... on Skill { name } } }",
        {"id": py["id"]},
        token=t.token("dev@t.example"),
    )
    assert node["node"] == {"name": "Python"}
    err = only_error(
        await gql(
            CREATE,
            {"i": {"name": "Django", "category": "engineering", "parentId": py["id"]}},
            token=t.token("hr@t.example"),
        )
    )
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.parentId"}


async def test_another_tenants_skill_is_not_found(
    t: TenantInfo, make_tenant: Any, gql: GQL
) -> None:
    other: TenantInfo = await make_tenant()
    theirs = (
        await gql.ok(
            CREATE,
            {"i": {"name": "Secret sauce", "category": "x"}},
            token=other.token("hr@t.example"),
        )
    )["createSkill"]
    node = await gql(
        "query($id: ID!) { node(id: $id) { id } }",
        {"id": theirs["id"]},
        token=t.token("hr@t.example"),
    )
    assert error_codes(node) == ["NOT_FOUND"]
    err = only_error(
        await gql(
            UPDATE, {"id": theirs["id"], "i": {"name": "Mine"}}, token=t.token("hr@t.example")
        )
    )
    assert err["extensions"]["code"] == "NOT_FOUND"
    err = only_error(
        await gql(
            CREATE,
            {"i": {"name": "Child", "category": "x", "parentId": theirs["id"]}},
            token=t.token("hr@t.example"),
        )
    )
    assert err["extensions"] == {"code": "NOT_FOUND", "field": "input.parentId"}
    listed = await gql.ok(LIST, {"f": {"search": "sauce"}, "n": 5}, token=t.token("hr@t.example"))
    assert listed["skills"]["totalCount"] == 0


async def test_proficiency_scale_default_and_replace(t: TenantInfo, gql: GQL) -> None:
    q = "{ proficiencyScale { level name descriptor } }"
    scale = (await gql.ok(q, token=t.token("dev@t.example")))["proficiencyScale"]
    assert [lv["level"] for lv in scale] == [1, 2, 3, 4, 5] and scale[0]["name"] == "Novice"
    m = "mutation($l: [ProficiencyLevelInput!]!) { setProficiencyScale(levels: $l) { level name } }"
    three = [{"level": i, "name": f"L{i}", "descriptor": f"level {i}"} for i in (1, 2, 3)]
    err = only_error(await gql(m, {"l": three}, token=t.token("dev@t.example")))
    assert err["extensions"]["code"] == "FORBIDDEN"
    for bad in ([three[0]], [three[0], three[2]], [*three[:2], {**three[2], "name": ""}]):
        err = only_error(await gql(m, {"l": bad}, token=t.token("hr@t.example")))
        assert err["extensions"]["code"] == "BAD_USER_INPUT" and err["extensions"][
            "field"
        ].startswith("levels")
    got = await gql.ok(m, {"l": list(reversed(three))}, token=t.token("hr@t.example"))
    assert [lv["name"] for lv in got["setProficiencyScale"]] == ["L1", "L2", "L3"]
    scale = (await gql.ok(q, token=t.token("dev@t.example")))["proficiencyScale"]
    assert [lv["name"] for lv in scale] == ["L1", "L2", "L3"]


CSV = """name,category,description,aliases,external_code,parent
Communication,soft skills,Clear writing and speaking,Writing;Speaking,onet:2.A.1.b,
Public speaking,soft skills,,Presenting,,Communication
Welding,trades,,,http://data.europa.eu/esco/skill/abc,
Broken,,,,,
Orphan,x,,,,Nowhere
Bad code,x,,,nocolon,
"""


async def test_import_dry_run_real_run_and_idempotent_rerun(
    t: TenantInfo, gql: GQL, owner_engine: AsyncEngine
) -> None:
    hr = t.token("hr@t.example")
    dry = (await gql.ok(IMPORT, {"csv": CSV, "dry": True}, token=hr))["importSkills"]
    assert (dry["created"], dry["updated"], dry["unchanged"], dry["errors"]) == (3, 0, 0, 3)
    assert [r["outcome"] for r in dry["rows"]] == [
        "created",
        "created",
        "created",
        "error",
        "error",
        "error",
    ]
    assert "category is required" in dry["rows"][3]["errors"][0]
    assert "Nowhere" in dry["rows"][4]["errors"][0]
    assert "scheme:code" in dry["rows"][5]["errors"][0]
    listed = await gql.ok(LIST, {"n": 10}, token=hr)
    assert listed["skills"]["totalCount"] == 0  # the dry run wrote nothing
    real = (await gql.ok(IMPORT, {"csv": CSV, "dry": False}, token=hr))["importSkills"]
    assert (real["created"], real["errors"]) == (3, 3)
    tree = await gql.ok(LIST, {"f": {"search": "communication"}, "n": 10}, token=hr)
    assert tree["skills"]["edges"][0]["node"]["children"] == [{"name": "Public speaking"}]
    again = (await gql.ok(IMPORT, {"csv": CSV, "dry": False}, token=hr))["importSkills"]
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    changed = CSV.replace("Clear writing and speaking", "Clear writing").replace(
        "Writing;Speaking", "Writing;Listening"
    )
    upd = (await gql.ok(IMPORT, {"csv": changed, "dry": False}, token=hr))["importSkills"]
    assert (upd["created"], upd["updated"], upd["unchanged"]) == (0, 1, 2)
    got = await gql.ok(
        "query($id: ID!) { node(id: $id) { ... on Skill { description aliases externalIds { scheme code } } } }",
        {"id": upd["rows"][0]["skillId"]},
        token=hr,
    )
    assert got["node"] == {
        "description": "Clear writing",
        "aliases": ["Writing", "Speaking", "Listening"],
        "externalIds": [{"scheme": "onet", "code": "2.A.1.b"}],
    }
    for bad, needle in (("", "empty"), ("title\nx", "unknown column"), ("category\nx", "name")):
        err = only_error(await gql(IMPORT, {"csv": bad, "dry": True}, token=hr))
        assert err["extensions"]["field"] == "csv" and needle in err["message"], (bad, err)
    assert (await gql(IMPORT, {"csv": CSV, "dry": True}, token=t.token("dev@t.example")))["errors"]


def _manifest(**extra: Any) -> dict[str, Any]:
    data = copy.deepcopy(SMALL_ORG)
    data.update(slug="m-skills", name="M", timezone="UTC")
    data.update(extra)
    return data


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"skills": [{"name": "A"}]}, "'category' is required"),
        (
            {"skills": [{"name": "A", "category": "x"}, {"name": "a", "category": "y"}]},
            "declared twice",
        ),
        ({"skills": [{"name": "A", "category": "x", "parent": "B"}]}, "not a skill in this file"),
        (
            {
                "skills": [
                    {"name": "A", "category": "x", "parent": "B"},
                    {"name": "B", "category": "x", "parent": "A"},
                ]
            },
            "cycle",
        ),
        ({"proficiency_levels": [{"level": 1, "name": "a", "descriptor": "b"}]}, "2 to 10"),
    ],
)
def test_manifest_sections_are_validated(section: dict[str, Any], problem: str) -> None:
    with pytest.raises(ManifestError) as exc:
        validate_manifest(_manifest(**section), "m.toml")
    assert problem in str(exc.value)


async def test_demo_tenants_declare_skills_and_a_scale(gql: GQL, acme: TenantInfo) -> None:
    tok = acme.token("admin@acme.example")
    scale = (await gql.ok("{ proficiencyScale { name } }", token=tok))["proficiencyScale"]
    assert [lv["name"] for lv in scale] == [
        "Aware",
        "Learning",
        "Practitioner",
        "Advanced",
        "Authority",
    ]
    roots = await gql.ok(
        LIST, {"f": {"rootsOnly": True, "category": "engineering"}, "n": 10}, token=tok
    )
    node = roots["skills"]["edges"][0]["node"]
    assert node["name"] == "Software engineering"
    assert [c["name"] for c in node["children"]] == ["Incident response", "PostgreSQL", "Python"]


async def test_manifest_development_sections_apply_idempotently(owner_engine: AsyncEngine) -> None:
    import uuid as _uuid

    from upward.tenancy.service import apply_manifest

    data = _manifest(
        slug=f"m-{_uuid.uuid4().hex[:8]}",
        credential_types=[{"name": "Card", "category": "certification"}],
        skills=[
            {"name": "Child", "category": "x", "parent": "Root"},  # any order
            {"name": "Root", "category": "x"},
        ],
        proficiency_levels=[
            {"level": 1, "name": "Low", "descriptor": "a"},
            {"level": 2, "name": "High", "descriptor": "b"},
        ],
        skill_grants=[{"credential_type": "Card", "skill": "Root", "proficiency": 2}],
        employee_skills=[{"employee": "dev@t.example", "skill": "Child", "proficiency": 1}],
    )
    first = await apply_manifest(owner_engine, validate_manifest(data, "m.toml"))
    assert first.created["skills"] == 2 and first.created["employee_skills"] == 1
    again = await apply_manifest(owner_engine, validate_manifest(data, "m.toml"))
    assert not again.changed, again.summary()
    bad = {
        **data,
        "employee_skills": [{"employee": "dev@t.example", "skill": "Child", "proficiency": 3}],
    }
    with pytest.raises(ManifestError) as exc:
        validate_manifest(bad, "m.toml")
    assert "1 to 2" in str(exc.value)
