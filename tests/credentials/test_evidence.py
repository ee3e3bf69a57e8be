"""Evidence: declare, PUT the bytes to the signed URL, attach to a credential, download."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from tests.conftest import GQL, TenantInfo, only_error
from tests.credentials.helpers import CREATE, type_ids

PDF = b"%PDF-1.4\n" + b"1 0 obj << >> endobj\n" * 40 + b"%%EOF\n"
UPLOAD = """mutation($i: CreateEvidenceUploadInput!) { createEvidenceUpload(input: $i) {
  uploadUrl method contentType expiresAt evidence { id fileName sizeBytes uploaded sha256 } } }"""


async def _declare(gql: GQL, t: TenantInfo, who: str, **over: object) -> dict:
    inp = {"fileName": "clearance.pdf", "mediaType": "application/pdf", "sizeBytes": len(PDF)}
    inp.update(over)
    data = await gql.ok(UPLOAD, {"i": inp}, token=t.token(who))
    return data["createEvidenceUpload"]


def _path(url: str) -> str:
    return urlsplit(url).path


class TestUpload:
    async def test_full_flow(self, gql: GQL, ct: TenantInfo) -> None:
        up = await _declare(gql, ct, "dev@t.example")
        assert up["method"] == "PUT" and up["contentType"] == "application/pdf"
        assert up["evidence"]["uploaded"] is False and up["evidence"]["sha256"] is None
        r = await gql.client.put(
            _path(up["uploadUrl"]), content=PDF, headers={"content-type": "application/pdf"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["sha256"] == hashlib.sha256(PDF).hexdigest()
        # a second PUT to the same URL is refused
        again = await gql.client.put(
            _path(up["uploadUrl"]), content=PDF, headers={"content-type": "application/pdf"}
        )
        assert again.status_code == 409

        ids = await type_ids(gql, ct)
        data = await gql.ok(
            CREATE.replace("supersededAt", "evidence { fileName sha256 sizeBytes downloadUrl }"),
            {
                "i": {
                    "credentialTypeId": ids["Clearance"],
                    "issuedOn": "2026-05-01",
                    "evidenceId": up["evidence"]["id"],
                }
            },
            token=ct.token("dev@t.example"),
        )
        c = data["createCredential"]["credential"]
        assert c["status"] == "PENDING_VERIFICATION"
        ev = c["evidence"]
        assert ev["sha256"] == hashlib.sha256(PDF).hexdigest() and ev["sizeBytes"] == len(PDF)
        got = await gql.client.get(_path(ev["downloadUrl"]))
        assert got.status_code == 200 and got.content == PDF
        assert got.headers["content-type"] == "application/pdf"
        assert "attachment" in got.headers["content-disposition"]
        assert got.headers["x-content-type-options"] == "nosniff"
        # the same evidence cannot prove a second credential
        body = await gql(
            CREATE,
            {
                "i": {
                    "credentialTypeId": ids["Clearance"],
                    "issuedOn": "2026-05-02",
                    "evidenceId": up["evidence"]["id"],
                }
            },
            token=ct.token("dev@t.example"),
        )
        assert only_error(body)["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": "input.evidenceId",
        }

    async def test_not_uploaded_yet(self, gql: GQL, ct: TenantInfo) -> None:
        up = await _declare(gql, ct, "dev@t.example")
        ids = await type_ids(gql, ct)
        body = await gql(
            CREATE,
            {
                "i": {
                    "credentialTypeId": ids["Clearance"],
                    "issuedOn": "2026-05-01",
                    "evidenceId": up["evidence"]["id"],
                }
            },
            token=ct.token("dev@t.example"),
        )
        err = only_error(body)
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.evidenceId"}
        assert "uploaded" in err["message"]

    async def test_someone_elses_evidence_is_unknown(self, gql: GQL, ct: TenantInfo) -> None:
        up = await _declare(gql, ct, "peer@t.example")
        await gql.client.put(
            _path(up["uploadUrl"]), content=PDF, headers={"content-type": "application/pdf"}
        )
        ids = await type_ids(gql, ct)
        body = await gql(
            CREATE,
            {
                "i": {
                    "credentialTypeId": ids["Clearance"],
                    "issuedOn": "2026-05-01",
                    "evidenceId": up["evidence"]["id"],
                }
            },
            token=ct.token("dev@t.example"),
        )
        assert only_error(body)["extensions"]["field"] == "input.evidenceId"
        q = "query($id: ID!) { node(id: $id) { id } }"
        body = await gql(q, {"id": up["evidence"]["id"]}, token=ct.token("dev@t.example"))
        assert only_error(body)["extensions"]["code"] == "NOT_FOUND"


class TestDeclareValidation:
    async def test_bad_declarations(self, gql: GQL, ct: TenantInfo) -> None:
        cases = [
            ({"mediaType": "text/html"}, "input.mediaType"),
            ({"mediaType": "application/x-msdownload"}, "input.mediaType"),
            ({"sizeBytes": 0}, "input.sizeBytes"),
            ({"sizeBytes": 50 * 1024 * 1024}, "input.sizeBytes"),
            ({"fileName": "../../etc/passwd"}, "input.fileName"),
            ({"fileName": "a\nb.pdf"}, "input.fileName"),
            ({"employeeId": ct.gid("peer@t.example")}, None),  # FORBIDDEN: not HR
        ]
        for over, field in cases:
            inp = {"fileName": "x.pdf", "mediaType": "application/pdf", "sizeBytes": 10, **over}
            body = await gql(UPLOAD, {"i": inp}, token=ct.token("dev@t.example"))
            err = only_error(body)
            if field is None:
                assert err["extensions"]["code"] == "FORBIDDEN"
            else:
                assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, over

    async def test_hr_uploads_for_someone(self, gql: GQL, ct: TenantInfo) -> None:
        up = await _declare(gql, ct, "hr@t.example", employeeId=ct.gid("peer@t.example"))
        assert up["evidence"]["fileName"] == "clearance.pdf"


class TestPut:
    async def test_bad_bodies_store_nothing(self, gql: GQL, ct: TenantInfo) -> None:
        up = await _declare(gql, ct, "dev@t.example")
        url = _path(up["uploadUrl"])
        cases = [
            (PDF, "image/png", 415),  # not the declared type
            (PDF[:-1], "application/pdf", 400),  # shorter than declared
            (PDF + b"x", "application/pdf", 400),  # longer than declared (Content-Length)
            (b"MZ" + PDF[2:], "application/pdf", 415),  # not a PDF at all
        ]
        for content, ctype, status in cases:
            r = await gql.client.put(url, content=content, headers={"content-type": ctype})
            assert r.status_code == status, (ctype, r.text)

        async def stream() -> object:  # no Content-Length, more than declared
            yield PDF
            yield b"more"

        r = await gql.client.put(url, content=stream(), headers={"content-type": "application/pdf"})
        assert r.status_code == 413
        r = await gql.client.put(url, content=PDF, headers={"content-type": "application/pdf"})
        assert r.status_code == 200  # still pending after all the failures

    async def test_tampered_and_wrong_kind_tokens(self, gql: GQL, ct: TenantInfo) -> None:
        up = await _declare(gql, ct, "dev@t.example")
        url = _path(up["uploadUrl"])
        body, sig = url.rsplit("/", 1)[1].split(".")
        forged = f"/uploads/evidence/{body}.{'A' * len(sig)}"
        r = await gql.client.put(forged, content=PDF, headers={"content-type": "application/pdf"})
        assert r.status_code == 403
        # an upload token is not a download token
        r = await gql.client.get("/evidence/" + url.rsplit("/", 1)[1])
        assert r.status_code == 403

    async def test_expired_link(self, gql: GQL, ct: TenantInfo, monkeypatch) -> None:
        import time

        up = await _declare(gql, ct, "dev@t.example")
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + 3600)
        r = await gql.client.put(
            _path(up["uploadUrl"]), content=PDF, headers={"content-type": "application/pdf"}
        )
        assert r.status_code == 410


async def test_a_file_missing_from_the_store_is_404(gql: GQL, ct: TenantInfo) -> None:
    import os

    from upward.credentials.storage import evidence_store

    up = await _declare(gql, ct, "dev@t.example")
    r = await gql.client.put(
        _path(up["uploadUrl"]), content=PDF, headers={"content-type": "application/pdf"}
    )
    assert r.status_code == 200
    q = "query($id: ID!) { node(id: $id) { ... on Evidence { downloadUrl } } }"
    data = await gql.ok(q, {"id": up["evidence"]["id"]}, token=ct.token("dev@t.example"))
    import base64

    raw = base64.b64decode(up["evidence"]["id"]).decode().split(":", 1)[1]
    os.unlink(evidence_store()._path(f"{ct.id}/{raw}"))
    got = await gql.client.get(_path(data["node"]["downloadUrl"]))
    assert got.status_code == 404 and got.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
