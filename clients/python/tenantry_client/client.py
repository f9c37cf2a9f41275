"""The generated client, configured once for the Tenantry API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from .generated.client import AuthenticatedClient

__all__ = ["API_KEY_HEADER", "DEFAULT_TIMEOUT", "Tenantry"]

#: The header that carries an API key (the spec's ``ApiKeyAuth`` scheme).
API_KEY_HEADER = "X-API-Key"
#: Seconds a request may take (connect, read, write and pool each).
DEFAULT_TIMEOUT = 30.0


def Tenantry(  # noqa: N802 - reads as the SDK's entry point
    base_url: str,
    api_key: str | None = None,
    bearer_token: str | None = None,
    timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
    *,
    headers: Mapping[str, str] | None = None,
    verify_ssl: bool = True,
    raise_on_unexpected_status: bool = False,
) -> AuthenticatedClient:
    """Returns the generated ``AuthenticatedClient``, configured for the Tenantry API.

    Give exactly one credential: ``api_key`` (sent as ``X-API-Key: <key>``) or
    ``bearer_token`` (sent as ``Authorization: Bearer <token>``). ``timeout`` is in
    seconds (``None`` waits forever). Pass the result as ``client=`` to every
    generated operation; use it in a ``with`` (or ``async with``) block, or call
    ``get_httpx_client().close()``, to close its connections::

        with Tenantry("http://127.0.0.1:8080", api_key=key) as client:
            project = unwrap(get_project.sync_detailed(project_id, client=client))
    """
    if (api_key is None) == (bearer_token is None):
        raise ValueError("give exactly one of api_key and bearer_token")
    if not isinstance(timeout, httpx.Timeout):
        timeout = httpx.Timeout(timeout)
    common: dict[str, Any] = {
        "base_url": base_url.rstrip("/"),
        "timeout": timeout,
        "headers": dict(headers or {}),
        "verify_ssl": verify_ssl,
        "raise_on_unexpected_status": raise_on_unexpected_status,
    }
    if api_key is not None:
        return AuthenticatedClient(token=api_key, prefix="", auth_header_name=API_KEY_HEADER, **common)
    assert bearer_token is not None
    return AuthenticatedClient(token=bearer_token, prefix="Bearer", auth_header_name="Authorization", **common)
