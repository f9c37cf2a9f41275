from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="TenantPatch")


@_attrs_define
class TenantPatch:
    """Changes to the tenant.

    Example:
        {'name': 'Acme Holdings'}

    Attributes:
        name (str): The tenant's display name, 1 to 200 characters.
    """

    name: str

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        tenant_patch = cls(
            name=name,
        )

        return tenant_patch
