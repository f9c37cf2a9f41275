from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.api_scope import ApiScope
from ..types import UNSET, Unset

T = TypeVar("T", bound="ApiKeyIn")


@_attrs_define
class ApiKeyIn:
    """A new API key.

    Example:
        {'expires_in_days': 90, 'name': 'CI pipeline', 'scopes': ['projects:read', 'tasks:read']}

    Attributes:
        name (str | Unset): A label for people, 1 to 100 characters; default `API key`. May be
            omitted, not `null`.
        scopes (list[ApiScope] | Unset): The scopes to grant (at least one), a subset of the caller's;
            default: all of the caller's. May be omitted, not `null`.
        expires_in_days (int | Unset): Days until the key expires, 1 to 730; default: never. May be omitted,
            not `null`.
    """

    name: str | Unset = UNSET
    scopes: list[ApiScope] | Unset = UNSET
    expires_in_days: int | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        scopes: list[str] | Unset = UNSET
        if not isinstance(self.scopes, Unset):
            scopes = []
            for scopes_item_data in self.scopes:
                scopes_item = scopes_item_data.value
                scopes.append(scopes_item)

        expires_in_days = self.expires_in_days

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if name is not UNSET:
            field_dict["name"] = name
        if scopes is not UNSET:
            field_dict["scopes"] = scopes
        if expires_in_days is not UNSET:
            field_dict["expires_in_days"] = expires_in_days

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name", UNSET)

        _scopes = d.pop("scopes", UNSET)
        scopes: list[ApiScope] | Unset = UNSET
        if _scopes is not UNSET:
            scopes = []
            for scopes_item_data in _scopes:
                scopes_item = ApiScope(scopes_item_data)

                scopes.append(scopes_item)

        expires_in_days = d.pop("expires_in_days", UNSET)

        api_key_in = cls(
            name=name,
            scopes=scopes,
            expires_in_days=expires_in_days,
        )

        return api_key_in
