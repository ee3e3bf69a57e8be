"""Citus readiness: every tenant table can be distributed by `tenant_id`, with `tenants` as a
reference table, and the hot queries find their tenant through an index.

The checks read the catalog of the migrated test database and fail where Citus would refuse
`create_distributed_table` (docs/scaling.md, "Running on Citus", has the statements and the
sources):

- every primary key, unique constraint, exclusion constraint and unique index (partial and
  expression ones too, which are not constraints) has `tenant_id` as a column;
- a foreign key between tenant tables has `tenant_id` on both sides at the same position; one
  from a tenant table goes to another tenant table or to `tenants` (from `tenant_id` to its id),
  never to a plain table; nothing references a tenant table from outside the tenant tables
  (`tenants`, a reference table, may not reference a distributed table);
- no foreign key that holds `tenant_id` sets it NULL or DEFAULT on delete (not even with a
  column list, citusdata/citus#7132) or cascades / sets it on update;
- the tables with triggers are the ones the docs name (they need `citus.enable_unsafe_triggers`);
- the isolation policy is the same on every tenant table, and the docs' switch to the
  subquery-free form (Citus refuses subqueries in policies) runs here and keeps isolation;
- the docs' `create_distributed_table` list is the catalog's tenant tables in foreign-key order.

The hot queries (the directory page, `me` and `upward_authenticate`, a person's credentials,
the compliance report, the inbox, postings, the recognition feed) run through the API while
auto_explain records the plan of every statement, nested ones included; each scan of a tenant
table must find `tenant_id` in an index condition, not only in a filter over a sequential scan.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.conftest import GQL, TenantInfo
from upward.db import set_tenant
from upward.ddl import TENANT_PREDICATE, TENANT_PREDICATE_PLAIN
from upward.graphql.relay import to_global_id
from upward.settings import APP_ROLE, get_settings, sqlalchemy_url

DOCS = Path(__file__).resolve().parents[1] / "docs" / "scaling.md"
REFERENCE_TABLES = {"tenants"}
# tables whose triggers Citus only accepts with citus.enable_unsafe_triggers (the points ledger's
# deferred balance check); the docs say so, and a new trigger must be thought through for Citus
TRIGGER_TABLES = {"points_entries", "points_transactions"}

# tenant tables: a tenant_id column, or forced row-level security (as the other guards find them)
TENANT_TABLES_SQL = sa.text("""
    select c.oid::int as oid, c.relname as name,
           (select a.attnum from pg_attribute a where a.attrelid = c.oid
              and a.attname = 'tenant_id' and not a.attisdropped) as tenant_attnum
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p')
      and (c.relforcerowsecurity or exists (
           select 1 from pg_attribute a where a.attrelid = c.oid
              and a.attname = 'tenant_id' and not a.attisdropped))
    order by c.relname
""")

# every key and foreign key touching a public table, with column names in key order
CONSTRAINTS_SQL = sa.text("""
    select c.conname as name, c.contype::text as type, c.conrelid::int as rel,
           c.conrelid::regclass::text as table, c.confrelid::int as ref,
           case when c.confrelid <> 0 then c.confrelid::regclass::text end as ref_table,
           c.confdeltype::text as on_delete, c.confupdtype::text as on_update,
           (select array_agg(a.attname::text order by k.ord)
              from unnest(c.conkey) with ordinality k(attnum, ord)
              join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum) as cols,
           (select array_agg(a.attname::text order by k.ord)
              from unnest(c.confkey) with ordinality k(attnum, ord)
              join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.attnum) as ref_cols,
           (select array_agg(o.oprname::text order by k.ord)
              from unnest(c.conexclop) with ordinality k(op, ord)
              join pg_operator o on o.oid = k.op) as exclusion_ops,
           pg_get_constraintdef(c.oid) as definition
    from pg_constraint c
    join pg_namespace n on n.oid = c.connamespace
    where c.contype in ('p', 'u', 'x', 'f')
      and n.nspname not in ('pg_catalog', 'information_schema')
""")

UNIQUE_INDEXES_SQL = sa.text("""
    select t.relname as table, i.relname as index, pg_get_indexdef(x.indexrelid) as definition,
           (select array_agg(a.attname::text) from unnest(x.indkey) k(attnum)
              join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum) as cols
    from pg_index x
    join pg_class i on i.oid = x.indexrelid
    join pg_class t on t.oid = x.indrelid
    join pg_namespace n on n.oid = t.relnamespace
    where n.nspname = 'public' and x.indisunique and t.oid = any(:tables)
""")


async def _all(engine: AsyncEngine, stmt: Any, **params: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(stmt, params)).mappings()]


@pytest.fixture(scope="module")
async def catalog(owner_engine: AsyncEngine) -> dict[str, Any]:
    tables = await _all(owner_engine, TENANT_TABLES_SQL)
    return {
        "tables": {t["name"]: t for t in tables},
        "oids": {t["oid"]: t["name"] for t in tables},
        "constraints": await _all(owner_engine, CONSTRAINTS_SQL),
        "unique_indexes": await _all(
            owner_engine, UNIQUE_INDEXES_SQL, tables=[t["oid"] for t in tables]
        ),
    }


def test_every_tenant_table_has_tenant_id(catalog: dict[str, Any]) -> None:
    tables = catalog["tables"]
    assert {"employees", "credentials", "notifications", "kudos"} <= set(tables)
    missing = [name for name, t in tables.items() if t["tenant_attnum"] is None]
    assert missing == [], f"forced RLS but no tenant_id (cannot be distributed): {missing}"


def test_keys_and_unique_indexes_include_tenant_id(catalog: dict[str, Any]) -> None:
    """Citus enforces uniqueness per shard: a key without the distribution column is refused."""
    oids = catalog["oids"]
    problems = []
    for c in catalog["constraints"]:
        if c["rel"] not in oids or c["type"] == "f":
            continue
        if "tenant_id" not in c["cols"]:
            problems.append(f"{c['table']}.{c['name']}: {c['definition']}")
        elif c["type"] == "x" and c["exclusion_ops"][c["cols"].index("tenant_id")] != "=":
            problems.append(f"{c['table']}.{c['name']}: tenant_id must be compared with =")
    for i in catalog["unique_indexes"]:  # CREATE UNIQUE INDEX: partial and expression ones too
        if "tenant_id" not in (i["cols"] or []):
            problems.append(f"{i['table']}.{i['index']}: {i['definition']}")
    assert problems == [], "keys without tenant_id:\n" + "\n".join(problems)
    assert sum(c["type"] == "p" and c["rel"] in oids for c in catalog["constraints"]) == len(oids)
    assert any(i["index"] == "skills_name_key" for i in catalog["unique_indexes"])  # expression


def test_foreign_keys_can_be_distributed(catalog: dict[str, Any]) -> None:
    oids, tables = catalog["oids"], catalog["tables"]
    problems = []
    for c in catalog["constraints"]:
        if c["type"] != "f":
            continue
        label = f"{c['table']}.{c['name']} ({c['definition']})"
        if c["rel"] not in oids:
            # a local or reference table may not reference a distributed one
            if c["ref"] in oids:
                problems.append(f"{label}: a non-tenant table references a tenant table")
            continue
        if c["ref"] in oids:
            cols, ref_cols = c["cols"], c["ref_cols"]
            if "tenant_id" not in cols or "tenant_id" not in ref_cols:
                problems.append(f"{label}: tenant_id missing on one side")
            elif cols.index("tenant_id") != ref_cols.index("tenant_id"):
                problems.append(f"{label}: tenant_id at different positions")
        elif c["ref_table"] in REFERENCE_TABLES:
            if (c["cols"], c["ref_cols"]) != (["tenant_id"], ["id"]):
                problems.append(f"{label}: the registry is referenced from tenant_id to its id")
        else:
            problems.append(f"{label}: references a table that is neither tenant nor reference")
        if "tenant_id" in c["cols"]:
            if c["on_delete"] in ("n", "d"):
                problems.append(f"{label}: ON DELETE SET NULL/DEFAULT on a key with tenant_id")
            if c["on_update"] in ("n", "d", "c"):
                problems.append(f"{label}: ON UPDATE CASCADE/SET NULL/DEFAULT with tenant_id")
    assert problems == [], "foreign keys Citus refuses:\n" + "\n".join(problems)
    assert tables  # and nothing above was vacuous
    assert sum(c["type"] == "f" and c["rel"] in oids for c in catalog["constraints"]) > 100


async def test_tables_with_triggers_are_the_documented_ones(
    owner_engine: AsyncEngine, catalog: dict[str, Any]
) -> None:
    rows = await _all(
        owner_engine,
        sa.text(
            "select distinct tgrelid::regclass::text as table from pg_trigger "
            "where not tgisinternal and tgrelid = any(:tables)"
        ),
        tables=list(catalog["oids"]),
    )
    assert {r["table"] for r in rows} == TRIGGER_TABLES
    section = citus_section()
    assert "citus.enable_unsafe_triggers" in section
    for table in TRIGGER_TABLES:
        assert table in section, f"docs/scaling.md: say that {table} has a trigger"


async def test_sequences_are_bigint(owner_engine: AsyncEngine, catalog: dict[str, Any]) -> None:
    """Ids are gen_random_uuid() today. Citus supports sequence and identity columns (each node
    draws from its own range), but only for bigint: a smaller sequence makes inserts on workers
    fail (docs.citusdata.com, "SQL Support and Workarounds"). bigint ones are only reported."""
    rows = await _all(
        owner_engine,
        sa.text("""
            select c.relname || '.' || a.attname as col, format_type(a.atttypid, null) as type
            from pg_attribute a
            join pg_class c on c.oid = a.attrelid
            left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
            where c.oid = any(:tables) and a.attnum > 0 and not a.attisdropped
              and (a.attidentity <> '' or pg_get_expr(d.adbin, d.adrelid) like 'nextval(%')
        """),
        tables=list(catalog["oids"]),
    )
    if rows:
        print("sequence-backed columns of tenant tables (a report):", rows)
    assert [r for r in rows if r["type"] != "bigint"] == []


# --- the isolation policy --------------------------------------------------------------------

POLICIES_SQL = sa.text("""
    select c.relname as table, p.polname as name, p.polcmd::text as cmd, p.polpermissive as permissive,
           p.polroles::text as roles,
           pg_get_expr(p.polqual, p.polrelid) as using_expr,
           pg_get_expr(p.polwithcheck, p.polrelid) as check_expr
    from pg_policy p join pg_class c on c.oid = p.polrelid
    where c.oid = any(:tables)
""")


async def _policies(conn: Any, catalog: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in (await conn.execute(POLICIES_SQL, {"tables": list(catalog["oids"])})).mappings():
        out[r["table"]].append(dict(r))
    return out


async def _canonical(conn: Any, predicate: str) -> str:
    """How the catalog spells `predicate` as a policy (pg_get_expr), on a throwaway table."""
    await conn.execute(sa.text("create temp table citus_guard_probe (tenant_id uuid)"))
    await conn.execute(sa.text(f"create policy probe on citus_guard_probe using ({predicate})"))
    expr = await conn.scalar(
        sa.text(
            "select pg_get_expr(polqual, polrelid) from pg_policy "
            "where polrelid = 'citus_guard_probe'::regclass"
        )
    )
    await conn.execute(sa.text("drop table citus_guard_probe"))
    return expr


def _check_policies(policies: dict[str, list[dict[str, Any]]], tables: set[str], expr: str) -> None:
    assert set(policies) == tables
    for table, found in policies.items():
        assert len(found) == 1, (table, found)
        (p,) = found
        assert (p["name"], p["cmd"], p["permissive"], p["roles"]) == (
            "tenant_isolation",
            "*",
            True,
            "{0}",
        ), (table, p)
        assert p["using_expr"] == p["check_expr"] == expr, (table, p)


async def test_every_policy_is_the_one_predicate(
    owner_engine: AsyncEngine, catalog: dict[str, Any]
) -> None:
    """One policy per tenant table, for every command and role, and exactly ddl's predicate
    (migrated from zero or upgraded through 0016, the same text)."""
    async with owner_engine.connect() as conn, conn.begin():
        expected = await _canonical(conn, TENANT_PREDICATE)
        policies = await _policies(conn, catalog)
        await conn.rollback()
    assert "SELECT" in expected  # the InitPlan form
    _check_policies(policies, set(catalog["tables"]), expected)


async def test_docs_switch_to_the_citus_policy_form(
    owner_engine: AsyncEngine, catalog: dict[str, Any], acme: TenantInfo, globex: TenantInfo
) -> None:
    """Citus refuses a policy with a subquery on a distributed table: the docs' first statement
    puts every policy back to the per-row form. Run here (and rolled back): each policy is then
    ddl's TENANT_PREDICATE_PLAIN, and a tenant still sees only its rows."""
    block = sql_block("-- 1.")
    async with owner_engine.connect() as conn:
        tx = await conn.begin()
        try:
            plain = await _canonical(conn, TENANT_PREDICATE_PLAIN)
            assert "SELECT" not in plain
            # the block as psql would send it (a DO statement), inside this transaction
            raw = (await conn.get_raw_connection()).driver_connection
            await raw.execute(block)
            _check_policies(await _policies(conn, catalog), set(catalog["tables"]), plain)
            await conn.execute(sa.text(f"set local role {APP_ROLE}"))
            await set_tenant(conn, acme.id)
            seen = set(
                (await conn.execute(sa.text("select distinct tenant_id from employees"))).scalars()
            )
            assert seen == {acme.id}
            hidden = await conn.scalar(
                sa.text("select count(*) from employees where id = :i"),
                {"i": globex.ids["admin@globex.example"]},
            )
            assert hidden == 0
        finally:
            await tx.rollback()


# --- the distribution statements in docs/scaling.md ------------------------------------------


def citus_section() -> str:
    text = DOCS.read_text()
    start = text.index("## Running on Citus")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def sql_block(marker: str) -> str:
    """The ```sql block of the Citus section whose first line is `marker`."""
    for block in re.findall(r"```sql\n(.*?)```", citus_section(), flags=re.S):
        if block.startswith(marker):
            return block
    raise AssertionError(f"docs/scaling.md: no ```sql block starting with {marker!r}")


def distribution_order(catalog: dict[str, Any]) -> list[str]:
    """The tenant tables, each after every tenant table it references (Citus needs the referenced
    table distributed first): by depth in the foreign-key graph, then by name."""
    refs: dict[str, set[str]] = defaultdict(set)
    oids = catalog["oids"]
    for c in catalog["constraints"]:
        if c["type"] == "f" and c["rel"] in oids and c["ref"] in oids and c["rel"] != c["ref"]:
            refs[oids[c["rel"]]].add(oids[c["ref"]])
    depth: dict[str, int] = {}

    def level(table: str, seen: tuple[str, ...] = ()) -> int:
        assert table not in seen, f"foreign-key cycle: {(*seen, table)}"
        if table not in depth:
            depth[table] = 1 + max((level(r, (*seen, table)) for r in refs[table]), default=-1)
        return depth[table]

    # departments first: the colocation group is named after it (any first table would do)
    return sorted(catalog["tables"], key=lambda t: (level(t), t != "departments", t))


def distribution_statements(catalog: dict[str, Any]) -> str:
    order = distribution_order(catalog)
    first, rest = order[0], order[1:]
    lines = [
        "-- 2. the registry on every node, then each tenant table after those it references",
        f"SET citus.enable_unsafe_triggers TO on;  -- {', '.join(sorted(TRIGGER_TABLES))}",
        "SELECT create_reference_table('tenants');",
        f"SELECT create_distributed_table('{first}', 'tenant_id');",
        *(
            f"SELECT create_distributed_table('{t}', 'tenant_id', colocate_with => '{first}');"
            for t in rest
        ),
    ]
    return "\n".join(lines) + "\n"


def test_docs_distribute_every_tenant_table_in_order(catalog: dict[str, Any]) -> None:
    expected = distribution_statements(catalog)
    assert sql_block("-- 2.") == expected, (
        "docs/scaling.md's distribution list differs from the catalog; the block should read:\n"
        + expected
    )
    listed = re.findall(r"create_distributed_table\('(\w+)'", expected)
    assert sorted(listed) == sorted(catalog["tables"])


# --- hot queries: EXPLAIN through auto_explain -----------------------------------------------

SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Tid Scan"}
TENANT_COND = re.compile(r"\btenant_id\b")


class PlanLog:
    """The plans auto_explain sends as NOTICEs (JSON), one per statement, nested ones included."""

    def __init__(self) -> None:
        self.plans: list[dict[str, Any]] = []

    def __call__(self, _conn: Any, message: Any) -> None:
        text = getattr(message, "message", str(message))
        if "plan:" in text:
            self.plans.append(json.loads(text.split("plan:", 1)[1]))


@pytest.fixture
async def explained_api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PlanLog]:
    """The API's request connections, with auto_explain logging every plan as a NOTICE: opened
    as the owner (LOAD needs a superuser), then `SET ROLE upward_app`, so RLS applies exactly as
    for the service. Sequential scans are priced out, so a plan shows whether an index *can*
    serve the tenant condition: on tiny test tables the planner would scan them anyway."""
    log = PlanLog()
    engine = create_async_engine(
        sqlalchemy_url(get_settings().owner_url()), pool_size=2, max_overflow=0
    )
    async with engine.connect() as probe:
        try:
            await probe.exec_driver_sql("LOAD 'auto_explain'")
        except sa.exc.DBAPIError as exc:
            await engine.dispose()
            from tests import conftest

            if conftest._embedded is None:  # a real server must have it: fail there
                raise
            pytest.skip(
                f"auto_explain is not in this PostgreSQL build (the embedded pgserver: {exc.orig}); "
                "the hot queries' plans are checked against the real server"
            )
    await engine.dispose()  # the probe's connection must not serve a request without the setup

    async def setup(conn: Any) -> None:
        await conn.execute(
            "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; "
            "SET auto_explain.log_nested_statements = on; SET auto_explain.log_format = json; "
            "SET auto_explain.log_level = notice; SET enable_seqscan = off; "
            f"SET ROLE {APP_ROLE}"
        )
        conn.add_log_listener(log)

    @sa.event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.run_async(setup)

    import upward.graphql.context

    monkeypatch.setattr(upward.graphql.context, "app_engine", lambda: engine)
    try:
        yield log
    finally:
        await engine.dispose()


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _uses_tenant_index(node: dict[str, Any]) -> bool:
    if node["Node Type"] in ("Index Scan", "Index Only Scan"):
        return bool(TENANT_COND.search(node.get("Index Cond", "")))
    if node["Node Type"] == "Bitmap Heap Scan":
        arms = [n for n in _nodes(node) if n["Node Type"] == "Bitmap Index Scan"]
        return bool(arms) and all(TENANT_COND.search(n.get("Index Cond", "")) for n in arms)
    return False  # a sequential (or TID) scan reads every tenant's rows


def tenant_scans(plan: dict[str, Any], tables: set[str]) -> Iterator[dict[str, Any]]:
    for node in _nodes(plan):
        if node["Node Type"] in SCANS and node.get("Relation Name") in tables:
            yield node


HOT_QUERIES: dict[str, tuple[str, bool]] = {  # name: (query, as HR)
    "me": (
        "{ me { id name email title isManager manager { name } department { name } "
        "location { name } } }",
        False,
    ),
    "employees page": (
        """{ employees(first: 100) { totalCount pageInfo { hasNextPage endCursor }
             edges { cursor node { id name email title jobLevel status
               manager { id name } department { id name } location { name } } } } }""",
        True,
    ),
    "credentials of an employee": (
        """query($e: ID!) { credentials(filter: {employeeIds: [$e]}, first: 50) { totalCount
             edges { node { id status expiresOn daysUntilExpiry credentialType { name }
               employee { name } } } } }""",
        True,
    ),
    "compliance report": (
        """{ complianceReport { on people { total compliant rate }
             requirements { total compliant rate } byDepartment { rate department { name } }
             gaps(first: 20) { totalCount edges { node { employee { name }
               answer { state compliant credentialType { name } } } } } } }""",
        True,
    ),
    "notifications inbox": (
        """{ notifications(first: 20) { totalCount edges { node { id kind subject createdAt
             read } } } unreadNotificationCount }""",
        False,
    ),
    "postings list": (
        """{ jobPostings(first: 20) { totalCount edges { node { id title status
             department { name } locations { name } hiringManager { name }
             requiredSkills { skill { name } minProficiency } } } } }""",
        False,
    ),
    "recognition feed": (
        """{ recognitionFeed(first: 20) { totalCount edges { node { id message createdAt
             giver { name } receivers { name } values { name } commentCount
             reactions { reaction count reactedByMe } } } } }""",
        False,
    ),
}


@pytest.fixture(scope="module")
async def hot_people(owner_engine: AsyncEngine, acme: TenantInfo) -> dict[str, Any]:
    """A person of acme with credentials and notifications, and HR. The tables are analyzed
    first, so the planner picks among the indexes with real statistics."""
    async with owner_engine.connect() as conn:
        await conn.execute(sa.text("analyze"))
        person = await conn.scalar(
            sa.text("""
                select e.email from employees e where e.tenant_id = :t and e.status = 'active'
                order by (select count(*) from notifications n
                           where n.tenant_id = e.tenant_id and n.recipient_id = e.id) desc,
                         (select count(*) from credentials c
                           where c.tenant_id = e.tenant_id and c.employee_id = e.id) desc,
                         e.email
                limit 1"""),
            {"t": acme.id},
        )
        holder = await conn.scalar(
            sa.text(
                "select employee_id from credentials where tenant_id = :t "
                "group by 1 order by count(*) desc, 1 limit 1"
            ),
            {"t": acme.id},
        )
    return {"person": person, "hr": "hr@acme.example", "holder": holder}


@pytest.mark.parametrize("name", list(HOT_QUERIES))
async def test_hot_query_finds_tenant_in_an_index(
    name: str,
    explained_api: PlanLog,
    gql: GQL,
    acme: TenantInfo,
    catalog: dict[str, Any],
    hot_people: dict[str, Any],
) -> None:
    query, as_hr = HOT_QUERIES[name]
    who = hot_people["hr"] if as_hr else hot_people["person"]
    variables = {"e": to_global_id("Employee", hot_people["holder"])} if "$e" in query else None
    data = await gql.ok(query, variables, token=acme.token(who))
    assert data
    await asyncio.sleep(0.05)  # notices arrive through the event loop
    tables = set(catalog["tables"])
    plans = explained_api.plans
    scanned = [(p, n) for p in plans for n in tenant_scans(p["Plan"], tables)]
    assert scanned, f"{name}: no plan of a tenant table was recorded ({len(plans)} plans)"
    texts = " ".join(p["Query Text"] for p in plans)
    assert "upward_authenticate" in texts and "(SELECT 1) AS one" in texts  # nested ones too
    bad = [
        f"{n['Node Type']} on {n['Relation Name']} "
        f"(index cond: {n.get('Index Cond', '-')}; filter: {n.get('Filter', '-')})\n"
        f"  in: {' '.join(p['Query Text'].split())[:300]}"
        for p, n in scanned
        if not _uses_tenant_index(n)
    ]
    assert bad == [], f"{name}: scans without tenant_id in an index condition:\n" + "\n".join(bad)
