"""Python SDK for the Tenantry API.

The operations and models are generated from the OpenAPI spec into
``tenantry_client.generated`` (never edited by hand); this package adds a client
configured once (with an API key, or a person's session refreshed transparently),
typed problem errors and auto-pagination::

    from tenantry_client import Tenantry, ProblemError, paginate, unwrap
    from tenantry_client.generated.api.projects import create_project, list_projects
    from tenantry_client.generated.models import ProjectIn

    with Tenantry("http://127.0.0.1:8080", api_key="tnt_...") as client:
        project = unwrap(create_project.sync_detailed(client=client, body=ProjectIn(name="Site")))
        for p in paginate(list_projects, client, limit=50):
            print(p.id, p.name)
"""

from .client import (
    API_KEY_HEADER,
    DEFAULT_REFRESH_LEEWAY,
    DEFAULT_TIMEOUT,
    RateLimitRetry,
    SessionAuth,
    SessionChange,
    SessionClient,
    SessionTokens,
    Tenantry,
    alog_in,
    alog_out,
    asign_up,
    aswitch_tenant,
    log_in,
    log_out,
    sign_up,
    switch_tenant,
)
from .errors import FieldError, ProblemError, SupportsResponse, unwrap
from .generated.client import AuthenticatedClient, Client
from .generated.types import UNSET, Response, Unset
from .pagination import AsyncListFn, ListOperation, Page, SyncListFn, apages, apaginate, pages, paginate

__version__ = "1.0.0"

__all__ = [
    "API_KEY_HEADER",
    "DEFAULT_REFRESH_LEEWAY",
    "DEFAULT_TIMEOUT",
    "UNSET",
    "AsyncListFn",
    "AuthenticatedClient",
    "Client",
    "FieldError",
    "ListOperation",
    "Page",
    "ProblemError",
    "RateLimitRetry",
    "Response",
    "SessionAuth",
    "SessionChange",
    "SessionClient",
    "SessionTokens",
    "SupportsResponse",
    "SyncListFn",
    "Tenantry",
    "Unset",
    "alog_in",
    "alog_out",
    "apages",
    "apaginate",
    "asign_up",
    "aswitch_tenant",
    "log_in",
    "log_out",
    "pages",
    "paginate",
    "sign_up",
    "switch_tenant",
    "unwrap",
]
