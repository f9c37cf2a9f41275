"""Contains all the data models used in inputs/outputs"""

from .api_key import ApiKey
from .api_key_in import ApiKeyIn
from .api_key_introspection import ApiKeyIntrospection
from .api_key_page import ApiKeyPage
from .api_scope import ApiScope
from .created_api_key import CreatedApiKey
from .field_error import FieldError
from .health_status import HealthStatus
from .problem import Problem
from .project import Project
from .project_in import ProjectIn
from .project_page import ProjectPage
from .project_patch import ProjectPatch
from .sort_direction import SortDirection
from .task import Task
from .task_in import TaskIn
from .task_page import TaskPage
from .task_patch import TaskPatch
from .task_sort import TaskSort
from .task_status import TaskStatus
from .tenant import Tenant

__all__ = (
    "ApiKey",
    "ApiKeyIn",
    "ApiKeyIntrospection",
    "ApiKeyPage",
    "ApiScope",
    "CreatedApiKey",
    "FieldError",
    "HealthStatus",
    "Problem",
    "Project",
    "ProjectIn",
    "ProjectPage",
    "ProjectPatch",
    "SortDirection",
    "Task",
    "TaskIn",
    "TaskPage",
    "TaskPatch",
    "TaskSort",
    "TaskStatus",
    "Tenant",
)
