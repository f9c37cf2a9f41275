from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="PasswordChangeIn")


@_attrs_define
class PasswordChangeIn:
    """A password change.

    Example:
        {'current_password': 'correct-horse-battery-staple', 'new_password': 'a-longer-and-better-passphrase-42'}

    Attributes:
        current_password (str): The password in use now (every password is 10 to 1,024 characters).
        new_password (str): The new password: 10 to 1,024 characters, not a common or easily guessed one.
    """

    current_password: str
    new_password: str

    def to_dict(self) -> dict[str, Any]:
        current_password = self.current_password

        new_password = self.new_password

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "current_password": current_password,
                "new_password": new_password,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        current_password = d.pop("current_password")

        new_password = d.pop("new_password")

        password_change_in = cls(
            current_password=current_password,
            new_password=new_password,
        )

        return password_change_in
