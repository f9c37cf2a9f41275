from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="LoginIn")


@_attrs_define
class LoginIn:
    """Sign-in details.

    Example:
        {'email': 'ada@example.com', 'password': 'correct-horse-battery-staple', 'tenant': 'analytical-engines'}

    Attributes:
        email (str): The person's email address (any case).
        password (str): Their password (every password is 10 to 1,024 characters).
        tenant (str | Unset): The tenant to act in, by id or slug; default: the last one used. May
            be omitted, not `null`.
    """

    email: str
    password: str
    tenant: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        email = self.email

        password = self.password

        tenant = self.tenant

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "email": email,
                "password": password,
            }
        )
        if tenant is not UNSET:
            field_dict["tenant"] = tenant

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        email = d.pop("email")

        password = d.pop("password")

        tenant = d.pop("tenant", UNSET)

        login_in = cls(
            email=email,
            password=password,
            tenant=tenant,
        )

        return login_in
