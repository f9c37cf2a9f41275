// The hand-written layer over the generated SDK (./generated, never edited):
// configure the base URL and credential once, get typed problem errors, and
// walk any list operation with an async iterator.

import { type Client, createClient, createConfig } from './generated/client/index.js';
import type { FieldError, Problem } from './generated/types.gen.js';

export * from './generated/index.js';
export type { Client } from './generated/client/index.js';

/** How to reach the API and who is calling. */
export interface TenantryConfig {
  /** The server's base URL, e.g. `https://api.example.com`. */
  baseUrl: string;
  /** An API key (`tnt_…`), sent as `X-API-Key`. */
  apiKey?: string;
  /** A bearer access token, sent as `Authorization: Bearer …`. */
  bearerToken?: string;
  /** A `fetch` implementation; the global one by default. */
  fetch?: typeof fetch;
}

/** A client configured once; pass it as `client` to any operation. */
export function createTenantryClient(config: TenantryConfig): Client {
  return createClient(
    createConfig({
      baseUrl: config.baseUrl.replace(/\/+$/, ''),
      ...(config.fetch ? { fetch: config.fetch } : {}),
      auth: (auth) => (auth.type === 'apiKey' ? config.apiKey : config.bearerToken),
    }),
  );
}

/** A non-2xx answer, read from its `application/problem+json` body (RFC 9457). */
export class ProblemError extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  /** The stable machine-readable code, e.g. `not_found`, `validation_failed`. */
  readonly code: string;
  /** Every offending field, for `validation_failed`. */
  readonly errors: FieldError[];

  constructor(problem: Problem) {
    super(`${problem.status} ${problem.code}: ${problem.detail}`);
    this.name = 'ProblemError';
    this.status = problem.status;
    this.type = problem.type;
    this.title = problem.title;
    this.detail = problem.detail;
    this.code = problem.code;
    this.errors = problem.errors ?? [];
  }

  /** Builds the error from whatever the server sent with status `status`. */
  static from(status: number, body: unknown): ProblemError {
    if (isProblem(body)) {
      return new ProblemError(body);
    }
    return new ProblemError({
      type: 'about:blank',
      title: 'Unexpected response',
      status,
      detail: typeof body === 'string' ? body : JSON.stringify(body ?? null),
      code: status === 0 ? 'network_error' : 'unexpected_response',
    });
  }
}

function isProblem(body: unknown): body is Problem {
  if (typeof body !== 'object' || body === null) {
    return false;
  }
  const b = body as Record<string, unknown>;
  return typeof b.status === 'number' && typeof b.code === 'string' && typeof b.type === 'string';
}

type Outcome<T> = { data?: T; error?: unknown; response?: Response };

/**
 * Awaits an operation's result and returns its data, or throws
 * [`ProblemError`] for any non-2xx answer.
 */
export async function unwrap<T>(pending: Promise<Outcome<T>>): Promise<T> {
  const { data, error, response } = await pending;
  if (!response) {
    throw ProblemError.from(0, error ?? 'no response');
  }
  if (error !== undefined || !response.ok) {
    throw ProblemError.from(response.status, error);
  }
  return data as T;
}

/** The page shape every list operation returns. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

type ListOptions = { query?: { cursor?: string; limit?: number } };

/** Any generated list operation (its options type is checked at the call site, through `Parameters`). */
type ListOperation = (options: any) => Promise<Outcome<Page<unknown>>>;

/** The item type of a list operation's pages. */
export type ItemOf<F extends ListOperation> =
  NonNullable<Awaited<ReturnType<F>>['data']> extends Page<infer I> ? I : never;

/**
 * Every item of a list operation, page after page, following `next_cursor`.
 * `options` are the operation's usual options (filters, sort, `limit`,
 * `client`); errors throw [`ProblemError`].
 *
 * ```ts
 * for await (const project of paginate(listProjects, { client })) { … }
 * ```
 */
export async function* paginate<F extends ListOperation>(
  operation: F,
  options: Parameters<F>[0] & ListOptions,
): AsyncGenerator<ItemOf<F>, void, undefined> {
  let cursor: string | undefined;
  for (;;) {
    const query = { ...options.query, ...(cursor === undefined ? {} : { cursor }) };
    const page = await unwrap(operation({ ...options, query }));
    yield* page.items as ItemOf<F>[];
    if (page.next_cursor === null) {
      return;
    }
    cursor = page.next_cursor;
  }
}
