from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.api_key import ApiKey
    from ..models.tenant import Tenant


T = TypeVar("T", bound="ApiKeyIntrospection")


@_attrs_define
class ApiKeyIntrospection:
    """The calling key and its tenant.

    Attributes:
        api_key (ApiKey): An API key (its secret is shown only when it is created).
        tenant (Tenant): A tenant: the organisation every resource belongs to.
    """

    api_key: ApiKey
    tenant: Tenant
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        api_key = self.api_key.to_dict()

        tenant = self.tenant.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "api_key": api_key,
                "tenant": tenant,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.api_key import ApiKey  # noqa: PLC0415
        from ..models.tenant import Tenant  # noqa: PLC0415

        d = dict(src_dict)
        api_key = ApiKey.from_dict(d.pop("api_key"))

        tenant = Tenant.from_dict(d.pop("tenant"))

        api_key_introspection = cls(
            api_key=api_key,
            tenant=tenant,
        )

        api_key_introspection.additional_properties = d
        return api_key_introspection

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
