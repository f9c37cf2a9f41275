from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.role import Role

if TYPE_CHECKING:
    from ..models.tenant import Tenant
    from ..models.user import User


T = TypeVar("T", bound="AuthSession")


@_attrs_define
class AuthSession:
    """A signed-in session: an access token for the API and a refresh token to
    get the next one.

        Attributes:
            access_token (str): Send as `Authorization: Bearer <access_token>`. A signed JWT naming
                the person, the tenant, the role and the session.
            token_type (str): Always `Bearer`.
            expires_in (int): Seconds until the access token expires (at most 900).
            refresh_token (str): Single use: exchange it at `/v1/auth/refresh` for a new pair. Keep it
                secret; presenting an already used one ends the session.
            session_id (UUID): The session's id (see `/v1/auth/sessions`).
            user (User): A person.
            tenant (Tenant): A tenant: the organisation every resource belongs to.
            role (Role): A member's role in a tenant. Viewers read; members also write projects
                and tasks; admins also manage members and API keys; owners also manage the
                tenant itself.
    """

    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    session_id: UUID
    user: User
    tenant: Tenant
    role: Role
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        access_token = self.access_token

        token_type = self.token_type

        expires_in = self.expires_in

        refresh_token = self.refresh_token

        session_id = str(self.session_id)

        user = self.user.to_dict()

        tenant = self.tenant.to_dict()

        role = self.role.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "access_token": access_token,
                "token_type": token_type,
                "expires_in": expires_in,
                "refresh_token": refresh_token,
                "session_id": session_id,
                "user": user,
                "tenant": tenant,
                "role": role,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.tenant import Tenant  # noqa: PLC0415
        from ..models.user import User  # noqa: PLC0415

        d = dict(src_dict)
        access_token = d.pop("access_token")

        token_type = d.pop("token_type")

        expires_in = d.pop("expires_in")

        refresh_token = d.pop("refresh_token")

        session_id = UUID(d.pop("session_id"))

        user = User.from_dict(d.pop("user"))

        tenant = Tenant.from_dict(d.pop("tenant"))

        role = Role(d.pop("role"))

        auth_session = cls(
            access_token=access_token,
            token_type=token_type,
            expires_in=expires_in,
            refresh_token=refresh_token,
            session_id=session_id,
            user=user,
            tenant=tenant,
            role=role,
        )

        auth_session.additional_properties = d
        return auth_session

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
