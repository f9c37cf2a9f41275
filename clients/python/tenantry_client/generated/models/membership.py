from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.role import Role

if TYPE_CHECKING:
    from ..models.tenant import Tenant


T = TypeVar("T", bound="Membership")


@_attrs_define
class Membership:
    """One of the person's memberships.

    Attributes:
        tenant (Tenant): A tenant: the organisation every resource belongs to.
        role (Role): A member's role in a tenant. Viewers read; members also write projects
            and tasks; admins also manage members and API keys; owners also manage the
            tenant itself.
        joined_at (datetime.datetime): When they joined the tenant (RFC 3339, UTC).
    """

    tenant: Tenant
    role: Role
    joined_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        tenant = self.tenant.to_dict()

        role = self.role.value

        joined_at = self.joined_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "tenant": tenant,
                "role": role,
                "joined_at": joined_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.tenant import Tenant  # noqa: PLC0415

        d = dict(src_dict)
        tenant = Tenant.from_dict(d.pop("tenant"))

        role = Role(d.pop("role"))

        joined_at = datetime.datetime.fromisoformat(d.pop("joined_at"))

        membership = cls(
            tenant=tenant,
            role=role,
            joined_at=joined_at,
        )

        membership.additional_properties = d
        return membership

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
