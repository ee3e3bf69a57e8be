"""docs/partners.md, the partner developer's guide, checked against the code.

- The scopes table lists exactly `upward.auth.scopes.SCOPES`.
- Every ```graphql block parses and validates against the schema (with the cost limit), and so
  does every GraphQL document embedded in the Python, shell and JavaScript examples. A block
  that starts with `# from schema.graphql` must be lines of schema.graphql instead; a block
  that starts with `# not validated: <why>` is skipped.
- The webhook verification snippets (Python, and Node.js when `node` is installed) are taken
  from the guide as written and run against signatures made by
  `upward.integrations.webhooks`: a real delivery during a secret rotation, sent by
  `upward.reminders.delivery` to a receiver, and hand-made cases (tampered body, wrong secret,
  stale and future timestamps).
- Links into partners.md resolve to its headings, and nothing links to the guides it replaced.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from graphql import parse, specified_rules, validate

from tests.conftest import GQL, ROOT, TenantInfo
from tests.integrations.receiver import Receiver
from tests.reminders.helpers import principal_of
from upward.auth.scopes import SCOPES
from upward.db import tenant_session
from upward.graphql.cost import make_cost_rule
from upward.graphql.schema import build_schema
from upward.integrations import webhooks
from upward.reminders import delivery, outbox
from upward.settings import Settings, reset_settings

DOCS = ROOT / "docs"
GUIDE = DOCS / "partners.md"
TEXT = GUIDE.read_text(encoding="utf-8")
SETTINGS = Settings(introspection=True, env="dev")
SCHEMA = build_schema(SETTINGS)._schema
RULES = [*specified_rules, make_cost_rule(SETTINGS.max_query_cost)]
FROM_SCHEMA = "# from schema.graphql"
# the JSON string after `"query":` in a curl body; not `"query":"'"$Q"'"`, a shell variable
CURL_QUERY = re.compile(r'"query": ?"(?!\')((?:[^"\\]|\\.)*)"')
NOT_VALIDATED = "# not validated:"


def fenced(lang: str, text: str = TEXT) -> list[str]:
    """The bodies of the ```lang blocks, in order."""
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


def section(title: str) -> str:
    start = TEXT.index(f"\n## {title}\n")
    end = TEXT.find("\n## ", start + 1)
    return TEXT[start : end if end != -1 else None]


def snippet(name: str) -> str:
    """The code block right after `<!-- snippet: name -->`."""
    m = re.search(rf"<!-- snippet: {re.escape(name)} -->\n```\w+\n(.*?)^```", TEXT, re.S | re.M)
    assert m is not None, f"no snippet {name!r} in docs/partners.md"
    return m.group(1)


# --- scopes -------------------------------------------------------------------------------------


def documented_scopes() -> list[str]:
    """The backquoted names in the first column of the table under "## Scopes"."""
    rows = [line for line in section("Scopes").splitlines() if line.startswith("| `")]
    return [name for row in rows for name in re.findall(r"`([^`]+)`", row.split("|")[1])]


def test_the_scopes_table_lists_exactly_the_scopes_of_the_code() -> None:
    documented = documented_scopes()
    assert len(documented) == len(set(documented)), f"listed twice: {documented}"
    missing = sorted(set(SCOPES) - set(documented))
    unknown = sorted(set(documented) - set(SCOPES))
    assert not missing, (
        f"scopes in upward.auth.scopes.SCOPES but not in docs/partners.md: {missing}"
    )
    assert not unknown, f"scopes in docs/partners.md that the code does not have: {unknown}"


# --- GraphQL documents --------------------------------------------------------------------------


def _label(doc: str) -> str:
    return doc.strip().splitlines()[0][:60]


def graphql_blocks() -> list[str]:
    return fenced("graphql")


def embedded_documents() -> list[str]:
    """GraphQL in the examples: Python triple-quoted strings, the `"query": "..."` of curl
    bodies and `Q='...'`, JavaScript `query: \\`...\\``."""
    out: list[str] = []
    for block in fenced("python"):
        out += [
            m
            for m in re.findall(r'"""\n?(.*?)"""', block, flags=re.S)
            if m.lstrip().startswith(("query", "mutation", "subscription", "{"))
        ]
    for block in fenced("sh"):
        out += [json.loads(f'"{m}"') for m in CURL_QUERY.findall(block)]
        out += re.findall(r"^Q='([^']*)'", block, flags=re.M)
    for block in fenced("js"):
        out += re.findall(r"query: `([^`]*)`", block)
    return out


def test_the_guide_has_the_documents_this_file_checks() -> None:
    assert len(graphql_blocks()) >= 4
    assert len(embedded_documents()) >= 10


def _check(doc: str) -> None:
    errors = validate(SCHEMA, parse(doc), RULES)
    assert not errors, "\n".join(e.message for e in errors) + f"\n{doc}"


@pytest.mark.parametrize("block", graphql_blocks(), ids=_label)
def test_a_graphql_block_validates(block: str) -> None:
    first = block.lstrip().splitlines()[0]
    if first.startswith(FROM_SCHEMA):
        sdl = {line.strip() for line in (ROOT / "schema.graphql").read_text().splitlines()}
        for line in block.splitlines()[1:]:
            assert not line.strip() or line.strip() in sdl, f"not in schema.graphql: {line}"
        return
    if first.startswith(NOT_VALIDATED):
        pytest.skip(first)
    _check(block)


@pytest.mark.parametrize("doc", embedded_documents(), ids=_label)
def test_a_document_in_an_example_validates(doc: str) -> None:
    _check(doc)


# --- links --------------------------------------------------------------------------------------


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    headings = re.findall(
        r"^#{1,6} (.+)$", re.sub(r"^```.*?^```", "", text, flags=re.S | re.M), re.M
    )
    return {_slug(h) for h in headings}


def test_links_into_the_guide_resolve() -> None:
    own = anchors(TEXT)
    for anchor in re.findall(r"\]\(#([^)]+)\)", TEXT):
        assert anchor in own, f"docs/partners.md links to #{anchor}, which is not a heading"
    for path in [*DOCS.glob("*.md"), ROOT / "README.md"]:
        text = path.read_text(encoding="utf-8")
        assert "partners-scim.md" not in text and "partners-live.md" not in text, path
        for anchor in re.findall(r"partners\.md#([\w-]+)", text):
            assert anchor in own, f"{path.name} links to partners.md#{anchor}: no such heading"


def test_links_from_the_guide_to_other_docs_resolve() -> None:
    for name, anchor in re.findall(r"\]\(([\w-]+\.md)(?:#([\w-]+))?\)", TEXT):
        target = DOCS / name
        assert target.exists(), f"docs/partners.md links to {name}, which does not exist"
        if anchor:
            assert anchor in anchors(target.read_text(encoding="utf-8")), f"{name}#{anchor}"


# --- webhook verification -----------------------------------------------------------------------

Verify = Callable[..., None]


@pytest.fixture(scope="module")
def verify_python() -> Verify:
    """`verify_webhook` as the guide writes it, exec'd on its own."""
    namespace: dict[str, Any] = {}
    code = snippet("verify-webhook-python")
    exec(compile(code, "docs/partners.md (verify-webhook-python)", "exec"), namespace)  # noqa: S102
    return namespace["verify_webhook"]


NODE_HARNESS = """
const { verifyWebhook } = require(process.argv[2]);
const input = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
try {
  verifyWebhook(input.secret, input.headers, Buffer.from(input.body, "base64"));
  console.log("ok");
} catch (err) {
  console.log("refused: " + err.message);
}
"""


@pytest.fixture(scope="module")
def verify_node(tmp_path_factory: pytest.TempPathFactory) -> Verify:
    """`verifyWebhook` as the guide writes it, run by node; raises ValueError when it throws."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    folder = tmp_path_factory.mktemp("node")
    module = folder / "verify.js"
    module.write_text(snippet("verify-webhook-node"))
    harness = folder / "harness.js"
    harness.write_text(NODE_HARNESS)

    def verify(secret: str, headers: dict[str, str], body: bytes) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}  # as Node's req.headers
        payload = {"secret": secret, "headers": lowered, "body": base64.b64encode(body).decode()}
        run = subprocess.run(  # noqa: S603 - node and our own files
            [node, str(harness), str(module)],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        if run.stdout.strip() != "ok":
            raise ValueError(run.stdout.strip())

    return verify


@pytest.fixture(params=["python", "node"])
def verify_snippet(request: pytest.FixtureRequest) -> Verify:
    return request.getfixturevalue(f"verify_{request.param}")


BODY = b'{"data":{"kudos_id":"S3Vkb3M6MQ=="},"id":"1","tenant":"acme","type":"kudos.given"}'


class TestVerificationSnippets:
    def test_accept_a_signature_of_the_signing_code(self, verify_snippet: Verify) -> None:
        secret = webhooks.new_secret()
        headers = webhooks.signed_headers(secret, "msg_1", int(time.time()), BODY)
        verify_snippet(secret, headers, BODY)

    def test_refuse_a_tampered_body(self, verify_snippet: Verify) -> None:
        secret = webhooks.new_secret()
        headers = webhooks.signed_headers(secret, "msg_1", int(time.time()), BODY)
        with pytest.raises(ValueError, match="no valid signature"):
            verify_snippet(secret, headers, BODY.replace(b"acme", b"acne"))

    def test_refuse_another_secret(self, verify_snippet: Verify) -> None:
        headers = webhooks.signed_headers(webhooks.new_secret(), "msg_1", int(time.time()), BODY)
        with pytest.raises(ValueError, match="no valid signature"):
            verify_snippet(webhooks.new_secret(), headers, BODY)

    def test_refuse_a_changed_id_or_timestamp(self, verify_snippet: Verify) -> None:
        secret = webhooks.new_secret()
        now = int(time.time())
        headers = webhooks.signed_headers(secret, "msg_1", now, BODY)
        with pytest.raises(ValueError, match="no valid signature"):
            verify_snippet(secret, {**headers, "webhook-id": "msg_2"}, BODY)
        with pytest.raises(ValueError, match="no valid signature"):
            verify_snippet(secret, {**headers, "webhook-timestamp": str(now - 1)}, BODY)

    # past offsets only grow while the snippet starts (node takes a second or more on a busy
    # machine); a future one must stay out of tolerance for that long, so it is well beyond
    @pytest.mark.parametrize("offset", [-301, 600, -3600])
    def test_refuse_a_timestamp_out_of_tolerance(self, verify_snippet: Verify, offset: int) -> None:
        """Signed correctly, but too old (a replay) or too far in the future."""
        secret = webhooks.new_secret()
        headers = webhooks.signed_headers(secret, "msg_1", int(time.time()) + offset, BODY)
        with pytest.raises(ValueError, match="too old or in the future"):
            verify_snippet(secret, headers, BODY)

    def test_refuse_missing_headers(self, verify_snippet: Verify) -> None:
        secret = webhooks.new_secret()
        headers = webhooks.signed_headers(secret, "msg_1", int(time.time()), BODY)
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            partial = {k: v for k, v in headers.items() if k != name}
            with pytest.raises(ValueError, match="missing"):
                verify_snippet(secret, partial, BODY)

    def test_skip_signatures_of_other_versions(self, verify_snippet: Verify) -> None:
        secret = webhooks.new_secret()
        headers = webhooks.signed_headers(secret, "msg_1", int(time.time()), BODY)
        v1 = headers["webhook-signature"]
        verify_snippet(secret, {**headers, "webhook-signature": f"v2,AAAA {v1}"}, BODY)
        with pytest.raises(ValueError, match="no valid signature"):
            verify_snippet(secret, {**headers, "webhook-signature": "v2" + v1[2:]}, BODY)

    def test_the_python_snippet_agrees_with_the_reference_receiver(
        self, verify_python: Verify
    ) -> None:
        """Headers in any case, a secret without its prefix: as `webhooks.verify` has it."""
        secret = webhooks.new_secret()
        headers = webhooks.signed_headers(secret, "msg_1", int(time.time()), BODY)
        shouted = {k.upper(): v for k, v in headers.items()}
        webhooks.verify(secret, shouted, BODY)
        verify_python(secret, shouted, BODY)
        verify_python(secret.removeprefix("whsec_"), headers, BODY)


# --- a real delivery during a rotation ----------------------------------------------------------


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("UPWARD_WEBHOOK_ALLOW_PRIVATE", "true")  # the receiver is on 127.0.0.1
    reset_settings()
    yield
    monkeypatch.delenv("UPWARD_WEBHOOK_ALLOW_PRIVATE")
    reset_settings()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


REGISTER = """mutation Register($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret endpoint { id } }
}"""
ROTATE = """mutation($id: ID!) {
  rotateWebhookSecret(id: $id, overlapHours: 24) { secret endpoint { previousSecretUntil } }
}"""


async def _deliver_pending(t: TenantInfo) -> list[str]:
    """What `events.publish` and the delivery actor do, inline."""
    p = await principal_of(t.id)
    async with tenant_session(t.id) as s:
        await outbox.publish_events(s)
    async with tenant_session(t.id) as s:
        ids = list(
            (
                await s.execute(
                    sa.text(
                        "select id from deliveries where channel = 'webhook' and status = 'pending'"
                    )
                )
            ).scalars()
        )
    statuses = []
    for delivery_id in ids:
        async with tenant_session(t.id) as s:
            statuses.append((await delivery.attempt(s, p, delivery_id)).status)
    return statuses


async def test_both_snippets_verify_a_real_delivery_signed_during_a_rotation(
    make_tenant: Any,
    gql: GQL,
    receiver: Receiver,
    allow_private: None,
    verify_python: Verify,
    request: pytest.FixtureRequest,
) -> None:
    t: TenantInfo = await make_tenant()
    admin = t.token("admin@t.example")
    created = await gql.ok(
        REGISTER,
        {"input": {"url": f"{receiver.base}/hook", "eventTypes": ["credential.created"]}},
        token=admin,
    )
    old = created["createWebhookEndpoint"]["secret"]
    endpoint = created["createWebhookEndpoint"]["endpoint"]["id"]
    rotated = (await gql.ok(ROTATE, {"id": endpoint}, token=admin))["rotateWebhookSecret"]
    new = rotated["secret"]
    assert rotated["endpoint"]["previousSecretUntil"] and old.startswith("whsec_")

    hr = t.token("hr@t.example")
    ctype = await gql.ok(
        'mutation { createCredentialType(input: {name: "First aid", category: CERTIFICATION, '
        "validityMonths: 24}) { credentialType { id } } }",
        token=hr,
    )
    await gql.ok(
        "mutation($i: CreateCredentialInput!) { createCredential(input: $i) { credential { id } } }",
        {
            "i": {
                "employeeId": t.gid("dev@t.example"),
                "credentialTypeId": ctype["createCredentialType"]["credentialType"]["id"],
                "issuedOn": "2026-06-01",
                "number": f"FA-{uuid.uuid4().hex[:6]}",
            }
        },
        token=hr,
    )
    receiver.secret = new
    receiver.received.clear()
    assert await _deliver_pending(t) == ["sent"]
    got = receiver.received[0]
    assert got.signature_error is None
    assert len(got.headers["webhook-signature"].split(" ")) == 2  # the new secret's, the old's

    verifiers = [verify_python]
    if shutil.which("node"):
        verifiers.append(request.getfixturevalue("verify_node"))
    for verify in verifiers:
        verify(new, got.headers, got.body)  # a receiver that switched to the new secret
        verify(old, got.headers, got.body)  # one that has not switched yet
        with pytest.raises(ValueError):
            verify(new, got.headers, got.body.replace(b"credential", b"kredential"))
        with pytest.raises(ValueError):
            verify(webhooks.new_secret(), got.headers, got.body)


def test_the_guide_keeps_no_copy_of_the_old_events_md_snippet() -> None:
    """One canonical snippet: events.md links to it instead of carrying its own."""
    events = (DOCS / "events.md").read_text(encoding="utf-8")
    assert "partners.md#verifying-a-delivery" in events
    assert "def verify" not in events
    assert Path(GUIDE).read_text(encoding="utf-8").count("def verify_webhook") == 1
