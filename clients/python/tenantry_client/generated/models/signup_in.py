from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="SignupIn")


@_attrs_define
class SignupIn:
    """Sign-up details.

    Example:
        {'email': 'ada@example.com', 'name': 'Ada Lovelace', 'password': 'correct-horse-battery-staple', 'tenant_name':
            'Analytical Engines', 'tenant_slug': None}

    Attributes:
        email (str): The person's email address; stored lowercase, unique.
        password (str): 10 to 1,024 characters, not a common or easily guessed one.
        name (str): The person's display name, 1 to 200 characters.
        tenant_name (str): The new tenant's display name, 1 to 200 characters.
        tenant_slug (str | Unset): The new tenant's slug; default: made from `tenant_name`, with a
            numeric suffix when taken.
    """

    email: str
    password: str
    name: str
    tenant_name: str
    tenant_slug: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        email = self.email

        password = self.password

        name = self.name

        tenant_name = self.tenant_name

        tenant_slug = self.tenant_slug

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "email": email,
                "password": password,
                "name": name,
                "tenant_name": tenant_name,
            }
        )
        if tenant_slug is not UNSET:
            field_dict["tenant_slug"] = tenant_slug

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        email = d.pop("email")

        password = d.pop("password")

        name = d.pop("name")

        tenant_name = d.pop("tenant_name")

        tenant_slug = d.pop("tenant_slug", UNSET)

        signup_in = cls(
            email=email,
            password=password,
            name=name,
            tenant_name=tenant_name,
            tenant_slug=tenant_slug,
        )

        signup_in.additional_properties = d
        return signup_in

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
