// The hand-written layer over the generated SDK (./generated, never edited):
// configure the base URL and credential once, get typed problem errors, walk
// any list operation with an async iterator, and hold a person's session
// (access token refreshed once, transparently, when it expires; moved to
// another tenant with `switchTenant`).

import { type Client, createClient, createConfig } from './generated/client/index.js';
import { login, logout, refreshSession, signup, switchTenant as switchTenantOperation } from './generated/sdk.gen.js';
import type { AuthSession, FieldError, LoginIn, Problem, SignupIn } from './generated/types.gen.js';

export * from './generated/index.js';
export type { Client } from './generated/client/index.js';
// The `switchTenant` helper below takes the operation's name at the package
// root (a local export wins over `export *`); the operation stays reachable.
export { switchTenantOperation };

/** How to reach the API and who is calling. */
export interface TenantryConfig {
  /** The server's base URL, e.g. `https://api.example.com`. */
  baseUrl: string;
  /** An API key (`tnt_…`), sent as `X-API-Key`. */
  apiKey?: string;
  /** A bearer access token, sent as `Authorization: Bearer …` (never refreshed; see `session`). */
  bearerToken?: string;
  /** A `fetch` implementation; the global one by default. */
  fetch?: typeof fetch;
  /**
   * A person's session to start with: the `AuthSession` of `signup`, `login`
   * or `refreshSession`, or tokens you stored (`SessionTokens`). Its access
   * token is sent as `Authorization: Bearer …` and refreshed when the server
   * refuses it. Leave it out and call `signUp` or `logIn` to start one later.
   * Not together with `apiKey` or `bearerToken`.
   */
  session?: AuthSession | SessionTokens;
  /**
   * Called after each change the client makes to its session: a new pair from
   * a refresh, `signUp`, `logIn` or `switchTenant` (the whole `AuthSession`), or `null` when
   * the session ended (a refused refresh token, `logOut`). Store the tokens
   * here to resume the session later. Not called for `client.session.set`.
   */
  onSessionChange?: (session: AuthSession | null) => void;
  /**
   * Refresh this many seconds before the access token expires, when its
   * expiry is known (default 5; 0 refreshes only after a `401`).
   */
  refreshLeewaySeconds?: number;
  /**
   * Send a request again when the server answers `429` with code
   * `rate_limited` (a spent request budget: nothing was done), after the
   * seconds its `Retry-After` says. Off by default; `true` retries up to 3
   * times, waiting at most 60 s each time (a longer wait answers the `429`).
   */
  retryRateLimited?: boolean | RateLimitRetry;
}

/** How `retryRateLimited` retries. */
export interface RateLimitRetry {
  /** The most times one request is sent again (default 3). */
  maxRetries?: number;
  /** The longest `Retry-After` waited for, in seconds (default 60). */
  maxWaitSeconds?: number;
}

/** The tokens of a person's session, as a client holds them. */
export interface SessionTokens {
  /** Sent as `Authorization: Bearer …`. */
  accessToken: string;
  /** Exchanged for a new pair at `POST /v1/auth/refresh`; single use. */
  refreshToken: string;
  /** When the access token expires, in milliseconds since the epoch (`Date.now()`); unknown when absent. */
  expiresAt?: number;
}

/** The session a `TenantryClient` holds (`client.session`). */
export interface SessionControl {
  /** A copy of the tokens held now, or `null` when signed out. */
  get(): SessionTokens | null;
  /** Replaces the held session (`null` forgets it). Does not call `onSessionChange`. */
  set(session: AuthSession | SessionTokens | null): void;
  /**
   * Exchanges the refresh token for a new pair now (joining a refresh already
   * in flight, or after a `switchTenant` in flight), stores it and calls
   * `onSessionChange`. Throws `ProblemError`;
   * when the server refuses the refresh token (a 4xx) the session is
   * forgotten, as after an automatic refresh.
   */
  refresh(): Promise<AuthSession>;
}

/** A client configured once; pass it as `client` to any operation. */
export type TenantryClient = Client & {
  /** The person's session the client sends, if any (see `TenantryConfig.session`). */
  readonly session: SessionControl;
};

/** Seconds before expiry at which a known-to-expire access token is refreshed first. */
const DEFAULT_REFRESH_LEEWAY_SECONDS = 5;

/** The endpoints that take no access token and are never refreshed for. */
const AUTH_ENDPOINTS = ['/v1/auth/signup', '/v1/auth/login', '/v1/auth/refresh'];

/**
 * A client configured once; pass it as `client` to any operation.
 *
 * With an API key or a fixed bearer token it sends that on every request.
 * With a session (`session`, or `signUp` / `logIn` later) it sends the
 * session's access token, and when a request that carried it is answered
 * `401` it refreshes the pair once at `POST /v1/auth/refresh` (concurrent
 * `401`s share that one refresh), calls `onSessionChange` and replays the
 * request once with the new token. When the server refuses the refresh
 * token the session is forgotten (`onSessionChange(null)`) and the original
 * `401` is answered; when the refresh cannot be made (network, `5xx`) the
 * session is kept and the original `401` is answered. The auth endpoints
 * (`signup`, `login`, `refresh`) are never retried.
 *
 * Replacing `fetch` later with `client.setConfig` turns this off.
 */
export function createTenantryClient(config: TenantryConfig): TenantryClient {
  if (config.session !== undefined && (config.apiKey !== undefined || config.bearerToken !== undefined)) {
    throw new TypeError('give either a session or an apiKey / bearerToken, not both');
  }
  const baseUrl = config.baseUrl.replace(/\/+$/, '');
  const direct: typeof fetch = config.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const send = config.retryRateLimited ? rateLimitedFetch(direct, config.retryRateLimited) : direct;
  const holder = new SessionHolder({
    baseUrl,
    fetch: send,
    session: config.session ?? null,
    leewayMs: Math.max(0, config.refreshLeewaySeconds ?? DEFAULT_REFRESH_LEEWAY_SECONDS) * 1000,
    ...(config.onSessionChange ? { onChange: config.onSessionChange } : {}),
  });
  const client = createClient(
    createConfig({
      baseUrl,
      fetch: sessionFetch(holder, send),
      auth: (auth) => {
        // A held session takes the place of the fixed credentials.
        if (holder.get() !== null) {
          return auth.type === 'apiKey' ? undefined : holder.accessToken();
        }
        return auth.type === 'apiKey' ? config.apiKey : config.bearerToken;
      },
    }),
  );
  const tenantry: TenantryClient = Object.assign(client, { session: holder.control });
  holders.set(tenantry, holder);
  return tenantry;
}

const holders = new WeakMap<Client, SessionHolder>();

function holderOf(client: Client): SessionHolder {
  const holder = holders.get(client);
  if (holder === undefined) {
    throw new TypeError('not a client made by createTenantryClient');
  }
  return holder;
}

function toTokens(session: AuthSession | SessionTokens): SessionTokens {
  if ('access_token' in session) {
    return {
      accessToken: session.access_token,
      refreshToken: session.refresh_token,
      expiresAt: Date.now() + session.expires_in * 1000,
    };
  }
  return { ...session };
}

type RefreshOutcome = { session: AuthSession } | { error: ProblemError };

/** The session state of one client, and its single-flight refresh. */
class SessionHolder {
  #tokens: SessionTokens | null;
  #inflight: Promise<RefreshOutcome> | null = null;
  /** The `switchTenant` in flight: refreshes wait for it, and it waits for them. */
  #switching: Promise<RefreshOutcome> | null = null;
  readonly #bare: Client;
  readonly #leewayMs: number;
  readonly #onChange: ((session: AuthSession | null) => void) | undefined;
  readonly control: SessionControl;

  constructor(options: {
    baseUrl: string;
    fetch: typeof fetch;
    session: AuthSession | SessionTokens | null;
    leewayMs: number;
    onChange?: (session: AuthSession | null) => void;
  }) {
    this.#tokens = options.session === null ? null : toTokens(options.session);
    // The refresh goes straight to the caller's fetch: never through the retry.
    this.#bare = createClient(createConfig({ baseUrl: options.baseUrl, fetch: options.fetch }));
    this.#leewayMs = options.leewayMs;
    this.#onChange = options.onChange;
    this.control = {
      get: () => this.get(),
      set: (session) => {
        this.#tokens = session === null ? null : toTokens(session);
      },
      refresh: async () => {
        await this.#afterSwitch();
        const outcome = await this.#refreshOnce();
        if ('error' in outcome) {
          throw outcome.error;
        }
        return outcome.session;
      },
    };
  }

  get(): SessionTokens | null {
    return this.#tokens === null ? null : { ...this.#tokens };
  }

  /** Holds `session` (from `signUp` / `logIn`) and tells `onSessionChange`. */
  adopt(session: AuthSession): void {
    this.#tokens = toTokens(session);
    this.#onChange?.(session);
  }

  /** Forgets the session, telling `onSessionChange` if there was one. */
  forget(): void {
    if (this.#tokens !== null) {
      this.#tokens = null;
      this.#onChange?.(null);
    }
  }

  /** The access token to send, refreshed first when it is about to expire. */
  async accessToken(): Promise<string | undefined> {
    await this.#afterSwitch();
    const tokens = this.#tokens;
    if (tokens === null) {
      return undefined;
    }
    if (this.#due(tokens)) {
      await this.#refreshOnce();
      return this.#tokens?.accessToken;
    }
    return tokens.accessToken;
  }

  /**
   * The access token to replay a request with after `stale` was refused:
   * the current one when a refresh already replaced `stale`, else the one a
   * (shared) refresh returns; `null` when there is none to try.
   */
  async renewAfter(stale: string): Promise<string | null> {
    await this.#afterSwitch();
    const tokens = this.#tokens;
    if (tokens === null) {
      return null;
    }
    if (tokens.accessToken !== stale) {
      return tokens.accessToken;
    }
    const outcome = await this.#refreshOnce();
    return 'session' in outcome ? outcome.session.access_token : null;
  }

  /**
   * Moves the session to `tenant` and holds the new pair (see `switchTenant`).
   * Runs alone: after the refresh or switch in flight, and before any refresh
   * asked for meanwhile, so that no refresh answered late puts back a pair of
   * the previous tenant.
   */
  async switchTenant(tenant: string): Promise<AuthSession> {
    while (this.#inflight !== null || this.#switching !== null) {
      await (this.#inflight ?? this.#switching);
    }
    this.#switching = this.#switch(tenant).finally(() => {
      this.#switching = null;
    });
    const outcome = await this.#switching;
    if ('error' in outcome) {
      throw outcome.error;
    }
    return outcome.session;
  }

  /** Waits until no `switchTenant` is in flight. */
  async #afterSwitch(): Promise<void> {
    while (this.#switching !== null) {
      await this.#switching;
    }
  }

  /**
   * Sends the switch with the held access token. That token is refreshed
   * first when it is about to expire, and once when the switch is answered
   * `401`, as for any request (here directly: the switch holds the turn).
   */
  async #switch(tenant: string): Promise<RefreshOutcome> {
    if (this.#tokens !== null && this.#due(this.#tokens)) {
      await this.#refresh();
    }
    let tokens = this.#tokens;
    if (tokens === null) {
      return { error: notSignedIn('the client holds no session to switch') };
    }
    const send = (accessToken: string) =>
      switchTenantOperation({ client: this.#bare, auth: accessToken, body: { tenant } });
    let answer = await send(tokens.accessToken);
    if (answer.response?.status === 401 && this.#tokens === tokens) {
      const renewed = await this.#refresh();
      if ('session' in renewed && this.#tokens !== null) {
        tokens = this.#tokens;
        answer = await send(tokens.accessToken);
      }
    }
    const { data, error, response } = answer;
    if (response?.ok && data !== undefined) {
      // A set() or logOut() while the switch ran wins, as for a refresh.
      if (this.#tokens === tokens) {
        this.adopt(data);
      }
      return { session: data };
    }
    return { error: ProblemError.from(response?.status ?? 0, error ?? 'no response') };
  }

  /** Whether `tokens` are known to expire within the leeway. */
  #due(tokens: SessionTokens): boolean {
    return this.#leewayMs > 0 && tokens.expiresAt !== undefined && Date.now() >= tokens.expiresAt - this.#leewayMs;
  }

  /** Starts a refresh, or joins the one in flight. */
  #refreshOnce(): Promise<RefreshOutcome> {
    this.#inflight ??= this.#refresh().finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  async #refresh(): Promise<RefreshOutcome> {
    const tokens = this.#tokens;
    if (tokens === null) {
      return { error: notSignedIn('the client holds no session to refresh') };
    }
    const { data, error, response } = await refreshSession({
      client: this.#bare,
      body: { refresh_token: tokens.refreshToken },
    });
    // A set(), logOut() or another refresh while this one ran wins.
    const current = this.#tokens === tokens;
    if (response?.ok && data !== undefined) {
      if (current) {
        this.adopt(data);
      }
      return { session: data };
    }
    const status = response?.status ?? 0;
    if (current && status >= 400 && status < 500) {
      this.forget();
    }
    return { error: ProblemError.from(status, error ?? 'no response') };
  }
}

function notSignedIn(detail: string): ProblemError {
  return new ProblemError({ type: 'about:blank', title: 'Not signed in', status: 401, detail, code: 'unauthenticated' });
}

/**
 * The `fetch` the client sends through: a request that carried the session's
 * access token and is answered `401` is replayed once with a refreshed token.
 */
function sessionFetch(holder: SessionHolder, send: typeof fetch): typeof fetch {
  return async (input, init) => {
    const request = input instanceof Request && init === undefined ? input : new Request(input, init);
    const authorization = request.headers.get('Authorization');
    const token = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined;
    const path = new URL(request.url).pathname;
    if (token === undefined || holder.get() === null || AUTH_ENDPOINTS.some((p) => path.endsWith(p))) {
      return send(request);
    }
    // Cloned before the first send, so that its body can be sent again.
    const replay = request.clone();
    const response = await send(request);
    if (response.status !== 401) {
      return response;
    }
    const fresh = await holder.renewAfter(token);
    if (fresh === null || fresh === token) {
      return response;
    }
    await response.body?.cancel();
    const headers = new Headers(replay.headers);
    headers.set('Authorization', `Bearer ${fresh}`);
    return send(new Request(replay, { headers }));
  };
}

/**
 * The `fetch` that sends a request again after the `Retry-After` of a `429`
 * whose code is `rate_limited` (the request budget was spent before
 * anything was done, so sending it again is always safe).
 */
function rateLimitedFetch(send: typeof fetch, retry: true | RateLimitRetry): typeof fetch {
  const policy = retry === true ? {} : retry;
  const maxRetries = Math.max(0, policy.maxRetries ?? 3);
  const maxWaitSeconds = Math.max(0, policy.maxWaitSeconds ?? 60);
  return async (input, init) => {
    let attempt = input instanceof Request && init === undefined ? input : new Request(input, init);
    for (let retries = 0; ; retries++) {
      // Cloned before it is sent, so that its body can be sent again.
      const spare = retries < maxRetries ? attempt.clone() : undefined;
      const response = await send(attempt);
      if (spare === undefined || response.status !== 429) {
        return response;
      }
      const wait = await rateLimitedWait(response);
      if (wait === undefined || wait > maxWaitSeconds) {
        return response;
      }
      await response.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      attempt = spare;
    }
  };
}

/** The seconds a `rate_limited` answer says to wait; `undefined` for any other `429`. */
async function rateLimitedWait(response: Response): Promise<number | undefined> {
  const seconds = retryAfterSeconds(response.headers);
  if (seconds === undefined) {
    return undefined;
  }
  try {
    const body: unknown = await response.clone().json();
    return isProblem(body) && body.code === 'rate_limited' ? seconds : undefined;
  } catch {
    return undefined;
  }
}

/** `Retry-After` in whole seconds, when it is given as such. */
function retryAfterSeconds(headers: Headers): number | undefined {
  const value = headers.get('Retry-After')?.trim();
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/**
 * Signs up (a person, a tenant they own and a session) and makes `client`
 * use the new session; returns it, after calling `onSessionChange`. Throws
 * `ProblemError` (`409` for an email already signed up, `422` for a weak
 * password).
 *
 * ```ts
 * const client = createTenantryClient({ baseUrl, onSessionChange: save });
 * await signUp(client, { email, password, name: 'Ada', tenant_name: 'Engines' });
 * ```
 */
export async function signUp(client: TenantryClient, body: SignupIn): Promise<AuthSession> {
  const holder = holderOf(client);
  const session = await unwrap(signup({ client, body }));
  holder.adopt(session);
  return session;
}

/**
 * Signs in with an email and password (in `body.tenant`, by id or slug, or
 * the tenant last used) and makes `client` use the new session; returns it,
 * after calling `onSessionChange`. Throws `ProblemError` (`401` for a wrong
 * email or password, `429` when throttled).
 */
export async function logIn(client: TenantryClient, body: LoginIn): Promise<AuthSession> {
  const holder = holderOf(client);
  const session = await unwrap(login({ client, body }));
  holder.adopt(session);
  return session;
}

/**
 * Ends the client's session on the server (`POST /v1/auth/logout`) and
 * forgets it (`onSessionChange(null)`). The session is forgotten whatever the
 * answer; a `401` (the session had already ended) counts as done, any other
 * error is thrown afterwards. Does nothing when no session is held.
 */
export async function logOut(client: TenantryClient): Promise<void> {
  const holder = holderOf(client);
  if (holder.get() === null) {
    return;
  }
  try {
    await unwrap(logout({ client }));
  } catch (e) {
    if (!(e instanceof ProblemError && e.status === 401)) {
      throw e;
    }
  } finally {
    holder.forget();
  }
}

/**
 * Moves the client's session to another tenant the person belongs to
 * (`tenant`: its id or slug) at `POST /v1/auth/switch-tenant`, holds the new
 * pair and calls `onSessionChange` with it, as a refresh does; returns it.
 * The session stays the same (`session_id`); the previous access token is
 * refused from now on. The switch waits for a refresh in flight, and
 * requests refused meanwhile wait for the switch. Throws `ProblemError`
 * (`404` for a tenant the person does not belong to) and keeps the current
 * session then.
 *
 * ```ts
 * const session = await switchTenant(client, 'analytical-engines');
 * console.log(session.tenant.name, session.role);
 * ```
 */
export async function switchTenant(client: TenantryClient, tenant: string): Promise<AuthSession> {
  return holderOf(client).switchTenant(tenant);
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
  /** Seconds to wait before trying again (`Retry-After`: `429`, `503`), when the server said. */
  readonly retryAfter: number | undefined;

  constructor(problem: Problem, retryAfter?: number) {
    super(`${problem.status} ${problem.code}: ${problem.detail}`);
    this.name = 'ProblemError';
    this.status = problem.status;
    this.type = problem.type;
    this.title = problem.title;
    this.detail = problem.detail;
    this.code = problem.code;
    this.errors = problem.errors ?? [];
    this.retryAfter = retryAfter;
  }

  /** Builds the error from whatever the server sent with status `status` (and `headers`). */
  static from(status: number, body: unknown, headers?: Headers): ProblemError {
    const retryAfter = headers === undefined ? undefined : retryAfterSeconds(headers);
    if (isProblem(body)) {
      return new ProblemError(body, retryAfter);
    }
    return new ProblemError(
      {
        type: 'about:blank',
        title: 'Unexpected response',
        status,
        detail: typeof body === 'string' ? body : JSON.stringify(body ?? null),
        code: status === 0 ? 'network_error' : 'unexpected_response',
      },
      retryAfter,
    );
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
    throw ProblemError.from(response.status, error, response.headers);
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
