from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="SwitchTenantIn")


@_attrs_define
class SwitchTenantIn:
    """The tenant to switch to.

    Example:
        {'tenant': 'analytical-engines'}

    Attributes:
        tenant (str): A tenant the person belongs to, by id or slug.
    """

    tenant: str

    def to_dict(self) -> dict[str, Any]:
        tenant = self.tenant

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "tenant": tenant,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        tenant = d.pop("tenant")

        switch_tenant_in = cls(
            tenant=tenant,
        )

        return switch_tenant_in
