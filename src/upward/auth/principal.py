"""Who is acting: a user (employee), a service (API key, later) or the system (workers)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from upward.errors import Forbidden

EMPLOYEE = "employee"
MANAGER = "manager"
HR_ADMIN = "hr_admin"
TENANT_ADMIN = "tenant_admin"


_HR_ROLES = frozenset({HR_ADMIN, TENANT_ADMIN})


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: uuid.UUID
    tenant_slug: str
    kind: Literal["user", "service", "system"]
    employee_id: uuid.UUID | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] | None = None  # None: a user, limited by roles only
    tenant_timezone: str = "UTC"
    api_key_id: uuid.UUID | None = None  # a service principal: the key it authenticated with
    # trusted-documents mode: only registered operations run (None: any; "*": any collection)
    document_collection: str | None = None

    @classmethod
    def system(
        cls, tenant_id: uuid.UUID, tenant_slug: str = "", timezone: str = "UTC"
    ) -> Principal:
        return cls(
            tenant_id=tenant_id,
            tenant_slug=tenant_slug,
            kind="system",
            roles=frozenset({TENANT_ADMIN, HR_ADMIN}),
            tenant_timezone=timezone,
        )

    @classmethod
    def service(
        cls,
        *,
        tenant_id: uuid.UUID,
        tenant_slug: str,
        api_key_id: uuid.UUID,
        scopes: frozenset[str],
        timezone: str = "UTC",
        document_collection: str | None = None,
    ) -> Principal:
        """A partner's key: tenant-wide like the system, but only within its scopes (which
        every GraphQL field and SCIM route checks before it runs)."""
        return cls(
            tenant_id=tenant_id,
            tenant_slug=tenant_slug,
            kind="service",
            roles=frozenset({TENANT_ADMIN, HR_ADMIN}),
            scopes=scopes,
            tenant_timezone=timezone,
            api_key_id=api_key_id,
            document_collection=document_collection,
        )

    @property
    def actor_id(self) -> uuid.UUID | None:
        """Who the audit names: the employee, or the API key of a service principal."""
        return self.employee_id if self.kind != "service" else self.api_key_id

    def has_scope(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes

    def require_scope(self, scope: str) -> None:
        if not self.has_scope(scope):
            raise Forbidden(f"this API key lacks the `{scope}` scope", scope=scope)

    def require_user(self, action: str) -> None:
        if self.kind != "user":
            raise Forbidden(f"{action} needs a signed-in person, not an API key")

    @property
    def is_hr(self) -> bool:
        """HR admins and tenant admins manage people."""
        return not self.roles.isdisjoint(_HR_ROLES)

    @property
    def is_tenant_admin(self) -> bool:
        return TENANT_ADMIN in self.roles

    @property
    def is_manager(self) -> bool:
        return MANAGER in self.roles

    @property
    def actor_type(self) -> str:
        return {"user": "employee", "service": "api_key", "system": "system"}[self.kind]

    def require_hr(self, action: str) -> None:
        if not self.is_hr:
            raise Forbidden(f"{action} requires the hr_admin or tenant_admin role")

    def require_tenant_admin(self, action: str) -> None:
        if not self.is_tenant_admin:
            raise Forbidden(f"{action} requires the tenant_admin role")
