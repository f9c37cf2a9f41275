from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="SignupIn")


@_attrs_define
class SignupIn:
    """Sign-up details.

    Example:
        {'email': 'ada@example.com', 'name': 'Ada Lovelace', 'password': 'correct-horse-battery-staple', 'tenant_name':
            'Analytical Engines'}

    Attributes:
        email (str): The person's email address; stored lowercase, unique.
        password (str): 10 to 1,024 characters, not a common or easily guessed one.
        name (str): The person's display name, 1 to 200 characters.
        tenant_name (str): The new tenant's display name, 1 to 200 characters.
        tenant_slug (str | Unset): The new tenant's slug (lowercase letters, digits and inner hyphens);
            default: made from `tenant_name`, with a numeric suffix when taken.
            May be omitted, not `null`.
    """

    email: str
    password: str
    name: str
    tenant_name: str
    tenant_slug: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        email = self.email

        password = self.password

        name = self.name

        tenant_name = self.tenant_name

        tenant_slug = self.tenant_slug

        field_dict: dict[str, Any] = {}

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

        return signup_in
