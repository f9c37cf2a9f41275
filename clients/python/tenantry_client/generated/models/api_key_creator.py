from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.api_key_creator_kind import ApiKeyCreatorKind

T = TypeVar("T", bound="ApiKeyCreator")


@_attrs_define
class ApiKeyCreator:
    """Who made an API key. A key made by a person keeps only what that person
    keeps: it is revoked when they leave the tenant or are removed from it,
    and when they are demoted below its scopes; a key made by a key follows
    the person that key follows.

        Attributes:
            kind (ApiKeyCreatorKind): What made an API key: `user` (a person signed in to the tenant),
                `api_key` (another key) or `operator` (the command line; also every key
                made before keys recorded their maker).
            id (None | UUID): The person's user id or the key's id; `null` for the operator.
    """

    kind: ApiKeyCreatorKind
    id: None | UUID
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        kind = self.kind.value

        id: None | str
        if isinstance(self.id, UUID):
            id = str(self.id)
        else:
            id = self.id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "kind": kind,
                "id": id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        kind = ApiKeyCreatorKind(d.pop("kind"))

        def _parse_id(data: object) -> None | UUID:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                id_type_0 = UUID(data)

                return id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | UUID, data)

        id = _parse_id(d.pop("id"))

        api_key_creator = cls(
            kind=kind,
            id=id,
        )

        api_key_creator.additional_properties = d
        return api_key_creator

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
