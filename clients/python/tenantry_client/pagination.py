"""Auto-pagination over the cursor-paginated list operations.

Every list operation answers ``{items: [...], next_cursor: str | null}`` and takes
the ``next_cursor`` of one page as ``cursor`` to read the next. ``paginate`` and
``apaginate`` follow the cursors and yield the items of every page, for any list
operation (``list_projects``, ``list_tasks``, ``list_project_tasks``,
``list_api_keys``), given as its generated module or its ``sync_detailed`` /
``asyncio_detailed`` function::

    for task in paginate(list_tasks, client, status=TaskStatus.TODO, limit=50):
        ...

    async for project in apaginate(list_projects, client):
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from types import ModuleType
from typing import Any, Protocol, TypeVar, cast

from .errors import SupportsResponse, unwrap
from .generated.client import AuthenticatedClient
from .generated.models import Problem
from .generated.types import UNSET, Unset

__all__ = ["AsyncListFn", "ListOperation", "Page", "SyncListFn", "apaginate", "apages", "paginate", "pages"]

Item_co = TypeVar("Item_co", covariant=True)
ItemT = TypeVar("ItemT")


class Page(Protocol[Item_co]):
    """One page of a list operation: ProjectPage, TaskPage and ApiKeyPage fit."""

    @property
    def items(self) -> Sequence[Item_co]: ...

    @property
    def next_cursor(self) -> str | None: ...


SyncListFn = Callable[..., SupportsResponse[Page[ItemT] | Problem]]
AsyncListFn = Callable[..., Awaitable[SupportsResponse[Page[ItemT] | Problem]]]


class ListOperation(Protocol[Item_co]):
    """A generated list operation's module, e.g. ``tenantry_client.generated.api.projects.list_projects``."""

    @property
    def sync_detailed(self) -> Callable[..., SupportsResponse[Page[Item_co] | Problem]]: ...

    @property
    def asyncio_detailed(self) -> Callable[..., Awaitable[SupportsResponse[Page[Item_co] | Problem]]]: ...


def _sync_fn(operation: ListOperation[ItemT] | SyncListFn[ItemT]) -> SyncListFn[ItemT]:
    if isinstance(operation, ModuleType):
        return cast(SyncListFn[ItemT], operation.sync_detailed)
    return cast(SyncListFn[ItemT], operation)


def _async_fn(operation: ListOperation[ItemT] | AsyncListFn[ItemT]) -> AsyncListFn[ItemT]:
    if isinstance(operation, ModuleType):
        return cast(AsyncListFn[ItemT], operation.asyncio_detailed)
    return cast(AsyncListFn[ItemT], operation)


def _start(params: dict[str, Any]) -> str | Unset:
    if "client" in params:
        raise TypeError("pass the client as the second positional argument, not as client=")
    cursor = params.pop("cursor", UNSET)
    return UNSET if cursor is None else cursor


def _next(page: Page[object], cursor: str | Unset) -> str | None:
    next_cursor = page.next_cursor
    if next_cursor is not None and next_cursor == cursor:
        raise RuntimeError(f"the server answered the same cursor {cursor!r} again; stopping")
    return next_cursor


def pages(
    operation: ListOperation[ItemT] | SyncListFn[ItemT], client: AuthenticatedClient, /, **params: Any
) -> Iterator[Page[ItemT]]:
    """Yields every page of a list operation, first to last.

    ``operation`` is the generated module of a list operation (``list_projects``,
    ``list_tasks``, ``list_project_tasks``, ``list_api_keys``) or its
    ``sync_detailed`` function; ``params`` are the operation's other arguments
    (``project_id``, ``status``, ``limit``, ...), and ``cursor`` where to start
    (default: the first page). Raises ProblemError when a page answers an error.
    """
    list_fn = _sync_fn(operation)
    cursor = _start(params)
    while True:
        page = unwrap(list_fn(client=client, cursor=cursor, **params))
        yield page
        next_cursor = _next(page, cursor)
        if next_cursor is None:
            return
        cursor = next_cursor


def paginate(
    operation: ListOperation[ItemT] | SyncListFn[ItemT], client: AuthenticatedClient, /, **params: Any
) -> Iterator[ItemT]:
    """Yields every item of a list operation across all its pages, following ``next_cursor``.

    Takes what ``pages`` takes. Pages are fetched lazily, one request each, as the
    iteration reaches them.
    """
    for page in pages(operation, client, **params):
        yield from page.items


async def apages(
    operation: ListOperation[ItemT] | AsyncListFn[ItemT], client: AuthenticatedClient, /, **params: Any
) -> AsyncIterator[Page[ItemT]]:
    """The async twin of ``pages``: ``operation`` is a generated list module or its ``asyncio_detailed``."""
    list_fn = _async_fn(operation)
    cursor = _start(params)
    while True:
        page = unwrap(await list_fn(client=client, cursor=cursor, **params))
        yield page
        next_cursor = _next(page, cursor)
        if next_cursor is None:
            return
        cursor = next_cursor


async def apaginate(
    operation: ListOperation[ItemT] | AsyncListFn[ItemT], client: AuthenticatedClient, /, **params: Any
) -> AsyncIterator[ItemT]:
    """The async twin of ``paginate``: ``operation`` is a generated list module or its ``asyncio_detailed``."""
    async for page in apages(operation, client, **params):
        for item in page.items:
            yield item
