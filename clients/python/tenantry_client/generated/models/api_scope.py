from enum import StrEnum


class ApiScope(StrEnum):
    API_KEYSMANAGE = "api_keys:manage"
    MEMBERSMANAGE = "members:manage"
    MEMBERSREAD = "members:read"
    PROJECTSREAD = "projects:read"
    PROJECTSWRITE = "projects:write"
    TASKSREAD = "tasks:read"
    TASKSWRITE = "tasks:write"
    TENANTMANAGE = "tenant:manage"

    def __str__(self) -> str:
        return str(self.value)
