from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Session")


@_attrs_define
class Session:
    """A signed-in device.

    Attributes:
        id (UUID): The session's id.
        tenant_id (UUID): The tenant the session acts in.
        user_agent (None | str): The `User-Agent` it signed in with, if any (at most 512 characters).
        created_at (datetime.datetime): When it signed in (RFC 3339, UTC).
        last_used_at (datetime.datetime): When its refresh token was last used (RFC 3339, UTC).
        expires_at (datetime.datetime): When it ends, however used (RFC 3339, UTC).
        current (bool): Whether this is the session making the request.
    """

    id: UUID
    tenant_id: UUID
    user_agent: None | str
    created_at: datetime.datetime
    last_used_at: datetime.datetime
    expires_at: datetime.datetime
    current: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        tenant_id = str(self.tenant_id)

        user_agent: None | str
        user_agent = self.user_agent

        created_at = self.created_at.isoformat()

        last_used_at = self.last_used_at.isoformat()

        expires_at = self.expires_at.isoformat()

        current = self.current

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "tenant_id": tenant_id,
                "user_agent": user_agent,
                "created_at": created_at,
                "last_used_at": last_used_at,
                "expires_at": expires_at,
                "current": current,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        tenant_id = UUID(d.pop("tenant_id"))

        def _parse_user_agent(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        user_agent = _parse_user_agent(d.pop("user_agent"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        last_used_at = datetime.datetime.fromisoformat(d.pop("last_used_at"))

        expires_at = datetime.datetime.fromisoformat(d.pop("expires_at"))

        current = d.pop("current")

        session = cls(
            id=id,
            tenant_id=tenant_id,
            user_agent=user_agent,
            created_at=created_at,
            last_used_at=last_used_at,
            expires_at=expires_at,
            current=current,
        )

        session.additional_properties = d
        return session

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
