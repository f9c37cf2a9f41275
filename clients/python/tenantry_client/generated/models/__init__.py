"""Contains all the data models used in inputs/outputs"""

from .api_key import ApiKey
from .api_key_creator import ApiKeyCreator
from .api_key_creator_kind import ApiKeyCreatorKind
from .api_key_in import ApiKeyIn
from .api_key_introspection import ApiKeyIntrospection
from .api_key_page import ApiKeyPage
from .api_scope import ApiScope
from .auth_session import AuthSession
from .created_api_key import CreatedApiKey
from .field_error import FieldError
from .health_status import HealthStatus
from .login_in import LoginIn
from .me import Me
from .member import Member
from .member_page import MemberPage
from .member_patch import MemberPatch
from .membership import Membership
from .ownership_transfer_in import OwnershipTransferIn
from .password_change_in import PasswordChangeIn
from .problem import Problem
from .project import Project
from .project_in import ProjectIn
from .project_page import ProjectPage
from .project_patch import ProjectPatch
from .refresh_in import RefreshIn
from .role import Role
from .session import Session
from .session_list import SessionList
from .signup_in import SignupIn
from .sort_direction import SortDirection
from .switch_tenant_in import SwitchTenantIn
from .task import Task
from .task_in import TaskIn
from .task_page import TaskPage
from .task_patch import TaskPatch
from .task_sort import TaskSort
from .task_status import TaskStatus
from .tenant import Tenant
from .tenant_patch import TenantPatch
from .user import User

__all__ = (
    "ApiKey",
    "ApiKeyCreator",
    "ApiKeyCreatorKind",
    "ApiKeyIn",
    "ApiKeyIntrospection",
    "ApiKeyPage",
    "ApiScope",
    "AuthSession",
    "CreatedApiKey",
    "FieldError",
    "HealthStatus",
    "LoginIn",
    "Me",
    "Member",
    "MemberPage",
    "MemberPatch",
    "Membership",
    "OwnershipTransferIn",
    "PasswordChangeIn",
    "Problem",
    "Project",
    "ProjectIn",
    "ProjectPage",
    "ProjectPatch",
    "RefreshIn",
    "Role",
    "Session",
    "SessionList",
    "SignupIn",
    "SortDirection",
    "SwitchTenantIn",
    "Task",
    "TaskIn",
    "TaskPage",
    "TaskPatch",
    "TaskSort",
    "TaskStatus",
    "Tenant",
    "TenantPatch",
    "User",
)
