from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.role import Role

T = TypeVar("T", bound="MemberPatch")


@_attrs_define
class MemberPatch:
    """A role change.

    Example:
        {'role': 'admin'}

    Attributes:
        role (Role): A member's role in a tenant. Viewers read; members also write projects
            and tasks; admins also manage members and API keys; owners also manage the
            tenant itself.
    """

    role: Role

    def to_dict(self) -> dict[str, Any]:
        role = self.role.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "role": role,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        role = Role(d.pop("role"))

        member_patch = cls(
            role=role,
        )

        return member_patch
