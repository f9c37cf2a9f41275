from enum import StrEnum


class ApiKeyCreatorKind(StrEnum):
    API_KEY = "api_key"
    OPERATOR = "operator"
    USER = "user"

    def __str__(self) -> str:
        return str(self.value)
