from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Tenant")


@_attrs_define
class Tenant:
    """A tenant: the organisation every resource belongs to.

    Attributes:
        id (UUID): The tenant's id.
        slug (str): A unique, lowercase handle: letters, digits and hyphens, 3 to 63 characters.
        name (str): The tenant's display name.
        created_at (datetime.datetime): When the tenant was created (RFC 3339, UTC).
        updated_at (datetime.datetime): When the tenant was last changed (RFC 3339, UTC).
        plan (None | str): The tenant's plan, set by the operator: its request budgets are
            those the `RateLimit-Policy` header shows. `null` on the default one.
    """

    id: UUID
    slug: str
    name: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    plan: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        slug = self.slug

        name = self.name

        created_at = self.created_at.isoformat()

        updated_at = self.updated_at.isoformat()

        plan: None | str
        plan = self.plan

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "slug": slug,
                "name": name,
                "created_at": created_at,
                "updated_at": updated_at,
                "plan": plan,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        slug = d.pop("slug")

        name = d.pop("name")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        def _parse_plan(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        plan = _parse_plan(d.pop("plan"))

        tenant = cls(
            id=id,
            slug=slug,
            name=name,
            created_at=created_at,
            updated_at=updated_at,
            plan=plan,
        )

        tenant.additional_properties = d
        return tenant

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
