import datetime
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.sort_direction import SortDirection
from ...models.task_page import TaskPage
from ...models.task_sort import TaskSort
from ...models.task_status import TaskStatus
from ...types import UNSET, Response, Unset


def _get_kwargs(
    project_id: UUID,
    *,
    status: TaskStatus | Unset = UNSET,
    due_before: datetime.date | Unset = UNSET,
    sort: TaskSort | Unset = UNSET,
    direction: SortDirection | Unset = UNSET,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_none_match, Unset):
        headers["If-None-Match"] = if_none_match

    params: dict[str, Any] = {}

    json_status: str | Unset = UNSET
    if not isinstance(status, Unset):
        json_status = status.value

    params["status"] = json_status

    json_due_before: str | Unset = UNSET
    if not isinstance(due_before, Unset):
        json_due_before = due_before.isoformat()
    params["due_before"] = json_due_before

    json_sort: str | Unset = UNSET
    if not isinstance(sort, Unset):
        json_sort = sort.value

    params["sort"] = json_sort

    json_direction: str | Unset = UNSET
    if not isinstance(direction, Unset):
        json_direction = direction.value

    params["direction"] = json_direction

    params["limit"] = limit

    params["cursor"] = cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/projects/{project_id}/tasks".format(
            project_id=quote(str(project_id), safe=""),
        ),
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | Problem | TaskPage | None:
    if response.status_code == 200:
        response_200 = TaskPage.from_dict(response.json())

        return response_200

    if response.status_code == 304:
        response_304 = cast(Any, None)
        return response_304

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = Problem.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | Problem | TaskPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    project_id: UUID,
    *,
    client: AuthenticatedClient,
    status: TaskStatus | Unset = UNSET,
    due_before: datetime.date | Unset = UNSET,
    sort: TaskSort | Unset = UNSET,
    direction: SortDirection | Unset = UNSET,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
) -> Response[Any | Problem | TaskPage]:
    """List a project's tasks

     Like `list_tasks`, within one project; 404 when the project does not
    exist. Requires the `tasks:read` scope.

    Args:
        project_id (UUID):
        status (TaskStatus | Unset): Where a task stands.
        due_before (datetime.date | Unset):
        sort (TaskSort | Unset): The order of a task list.
        direction (SortDirection | Unset): Ascending or descending.
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem | TaskPage]
    """

    kwargs = _get_kwargs(
        project_id=project_id,
        status=status,
        due_before=due_before,
        sort=sort,
        direction=direction,
        limit=limit,
        cursor=cursor,
        if_none_match=if_none_match,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    project_id: UUID,
    *,
    client: AuthenticatedClient,
    status: TaskStatus | Unset = UNSET,
    due_before: datetime.date | Unset = UNSET,
    sort: TaskSort | Unset = UNSET,
    direction: SortDirection | Unset = UNSET,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
) -> Any | Problem | TaskPage | None:
    """List a project's tasks

     Like `list_tasks`, within one project; 404 when the project does not
    exist. Requires the `tasks:read` scope.

    Args:
        project_id (UUID):
        status (TaskStatus | Unset): Where a task stands.
        due_before (datetime.date | Unset):
        sort (TaskSort | Unset): The order of a task list.
        direction (SortDirection | Unset): Ascending or descending.
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem | TaskPage
    """

    return sync_detailed(
        project_id=project_id,
        client=client,
        status=status,
        due_before=due_before,
        sort=sort,
        direction=direction,
        limit=limit,
        cursor=cursor,
        if_none_match=if_none_match,
    ).parsed


async def asyncio_detailed(
    project_id: UUID,
    *,
    client: AuthenticatedClient,
    status: TaskStatus | Unset = UNSET,
    due_before: datetime.date | Unset = UNSET,
    sort: TaskSort | Unset = UNSET,
    direction: SortDirection | Unset = UNSET,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
) -> Response[Any | Problem | TaskPage]:
    """List a project's tasks

     Like `list_tasks`, within one project; 404 when the project does not
    exist. Requires the `tasks:read` scope.

    Args:
        project_id (UUID):
        status (TaskStatus | Unset): Where a task stands.
        due_before (datetime.date | Unset):
        sort (TaskSort | Unset): The order of a task list.
        direction (SortDirection | Unset): Ascending or descending.
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem | TaskPage]
    """

    kwargs = _get_kwargs(
        project_id=project_id,
        status=status,
        due_before=due_before,
        sort=sort,
        direction=direction,
        limit=limit,
        cursor=cursor,
        if_none_match=if_none_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    project_id: UUID,
    *,
    client: AuthenticatedClient,
    status: TaskStatus | Unset = UNSET,
    due_before: datetime.date | Unset = UNSET,
    sort: TaskSort | Unset = UNSET,
    direction: SortDirection | Unset = UNSET,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
) -> Any | Problem | TaskPage | None:
    """List a project's tasks

     Like `list_tasks`, within one project; 404 when the project does not
    exist. Requires the `tasks:read` scope.

    Args:
        project_id (UUID):
        status (TaskStatus | Unset): Where a task stands.
        due_before (datetime.date | Unset):
        sort (TaskSort | Unset): The order of a task list.
        direction (SortDirection | Unset): Ascending or descending.
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem | TaskPage
    """

    return (
        await asyncio_detailed(
            project_id=project_id,
            client=client,
            status=status,
            due_before=due_before,
            sort=sort,
            direction=direction,
            limit=limit,
            cursor=cursor,
            if_none_match=if_none_match,
        )
    ).parsed
