from enum import StrEnum


class ApiScope(StrEnum):
    API_KEYSMANAGE = "api_keys:manage"
    PROJECTSREAD = "projects:read"
    PROJECTSWRITE = "projects:write"
    TASKSREAD = "tasks:read"
    TASKSWRITE = "tasks:write"

    def __str__(self) -> str:
        return str(self.value)
