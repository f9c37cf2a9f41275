// Tests of the session handling of the built package that need no server:
// every request goes to a `fetch` stand-in that answers like the API would.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ProblemError,
  createProject,
  createTenantryClient,
  getMe,
  listProjects,
  logIn,
  logOut,
  switchTenant,
  unwrap,
  type AuthSession,
  type SessionTokens,
} from '../dist/index.js';

const baseUrl = 'http://tenantry.test';
const PROBLEM = { 'Content-Type': 'application/problem+json' };

function problem(status: number, code: string, detail: string): Response {
  return Response.json({ type: `urn:tenantry:problem:${code}`, title: code, status, detail, code }, { status, headers: PROBLEM });
}

function authSession(n: number, expiresIn = 900): AuthSession {
  const at = '2026-11-26T00:00:00Z';
  return {
    access_token: `access-${n}`,
    token_type: 'Bearer',
    expires_in: expiresIn,
    refresh_token: `tnr_refresh-${n}`,
    session_id: '00000000-0000-7000-8000-000000000001',
    user: { id: '00000000-0000-7000-8000-000000000002', email: 'ada@example.com', name: 'Ada', created_at: at },
    tenant: {
      id: '00000000-0000-7000-8000-000000000003',
      slug: 'engines',
      name: 'Engines',
      created_at: at,
      updated_at: at,
      plan: null,
    },
    role: 'owner',
  };
}

/** The pair `/v1/auth/switch-tenant` answers: the same session, in the tenant `looms`. */
function switched(n: number): AuthSession {
  const session = authSession(n);
  const tenant = { ...session.tenant, id: '00000000-0000-7000-8000-000000000004', slug: 'looms', name: 'Looms' };
  return { ...session, tenant, role: 'viewer' };
}

const projects = () => Response.json({ items: [], next_cursor: null });

/** A stand-in for the API: `valid` is the access token it accepts, `refresh` answers `/v1/auth/refresh`. */
class FakeApi {
  valid = 'access-1';
  readonly seen: { method: string; path: string; token: string | null; apiKey: string | null; body: string }[] = [];
  refresh: (body: { refresh_token: string }) => Promise<Response> | Response = (body) => {
    assert.equal(body.refresh_token, 'tnr_refresh-0');
    this.valid = 'access-1';
    return Response.json(authSession(1));
  };
  /** Answers `/v1/auth/switch-tenant` (sent with the valid token): `looms` is the person's other tenant. */
  switchTo: (tenant: string) => Promise<Response> | Response = (tenant) => {
    if (tenant !== 'looms') {
      return problem(404, 'not_found', `no tenant ${tenant} of yours`);
    }
    this.valid = 'access-7';
    return Response.json(switched(7));
  };

  get refreshes(): number {
    return this.seen.filter((r) => r.path === '/v1/auth/refresh').length;
  }

  readonly fetch: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const path = new URL(request.url).pathname;
    const body = await request.text();
    const token = request.headers.get('Authorization');
    this.seen.push({ method: request.method, path, token, apiKey: request.headers.get('X-API-Key'), body });
    if (path === '/v1/auth/refresh') {
      return this.refresh(JSON.parse(body) as { refresh_token: string });
    }
    if (path === '/v1/auth/login') {
      return body.includes('wrong') ? problem(401, 'unauthenticated', 'the email or password is wrong') : Response.json(authSession(5));
    }
    if (path === '/v1/auth/logout') {
      return request.headers.get('Authorization') === `Bearer ${this.valid}`
        ? new Response(null, { status: 204 })
        : problem(401, 'unauthenticated', 'the session has ended');
    }
    if (request.headers.get('Authorization') !== `Bearer ${this.valid}`) {
      return problem(401, 'unauthenticated', `refused ${request.headers.get('Authorization')}`);
    }
    if (path === '/v1/auth/switch-tenant') {
      return this.switchTo((JSON.parse(body) as { tenant: string }).tenant);
    }
    if (request.method === 'POST') {
      return Response.json({ ...JSON.parse(body), id: '00000000-0000-7000-8000-000000000009' }, { status: 201 });
    }
    return projects();
  };
}

const stale: SessionTokens = { accessToken: 'access-0', refreshToken: 'tnr_refresh-0' };

test('concurrent 401s share one refresh, and every request is replayed once with the new token', async () => {
  const api = new FakeApi();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  api.refresh = async (body) => {
    assert.equal(body.refresh_token, 'tnr_refresh-0');
    await gate; // every request has had its 401 before the refresh answers
    api.valid = 'access-1';
    return Response.json(authSession(1));
  };
  const changes: (AuthSession | null)[] = [];
  const client = createTenantryClient({ baseUrl, fetch: api.fetch, session: stale, onSessionChange: (s) => changes.push(s) });
  const pending = Promise.all([1, 2, 3].map(() => unwrap(listProjects({ client }))));
  while (api.seen.filter((r) => r.path === '/v1/projects').length < 3 || api.refreshes < 1) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  release();
  await pending;
  assert.equal(api.refreshes, 1, 'one refresh for three 401s');
  const listed = api.seen.filter((r) => r.path === '/v1/projects').map((r) => r.token);
  assert.deepEqual(listed, [...Array(3).fill('Bearer access-0'), ...Array(3).fill('Bearer access-1')]);
  assert.deepEqual(changes.map((s) => s?.refresh_token), ['tnr_refresh-1']);
  assert.equal(client.session.get()?.accessToken, 'access-1');
  assert.equal(client.session.get()?.refreshToken, 'tnr_refresh-1');
});

test('a 401 that arrives after the refresh is replayed with the new token, without a second refresh', async () => {
  const api = new FakeApi();
  let refreshed!: () => void;
  const done = new Promise<void>((resolve) => (refreshed = resolve));
  const fetchLate: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const response = await api.fetch(request.clone());
    if (new URL(request.url).pathname === '/v1/auth/refresh') {
      refreshed();
    } else if (request.headers.get('X-Late') !== null && response.status === 401) {
      await done; // this 401 comes back only once the other request's refresh is over
    }
    return response;
  };
  const client = createTenantryClient({ baseUrl, fetch: fetchLate, session: stale });
  await Promise.all([
    unwrap(listProjects({ client })),
    unwrap(listProjects({ client, headers: { 'X-Late': '1' } })),
  ]);
  assert.equal(api.refreshes, 1);
  assert.deepEqual(
    api.seen.filter((r) => r.path === '/v1/projects').map((r) => r.token),
    ['Bearer access-0', 'Bearer access-0', 'Bearer access-1', 'Bearer access-1'],
  );
});

test('the request body is sent again on the replay', async () => {
  const api = new FakeApi();
  const client = createTenantryClient({ baseUrl, fetch: api.fetch, session: stale });
  const project = await unwrap(createProject({ client, body: { name: 'replayed', description: 'twice' } }));
  assert.equal(project.name, 'replayed');
  const posts = api.seen.filter((r) => r.path === '/v1/projects');
  assert.equal(posts.length, 2);
  assert.deepEqual(posts.map((r) => JSON.parse(r.body)), [
    { name: 'replayed', description: 'twice' },
    { name: 'replayed', description: 'twice' },
  ]);
  assert.equal(posts[1]?.token, 'Bearer access-1');
});

test('a refused refresh forgets the session and answers the original 401, once', async () => {
  const api = new FakeApi();
  api.refresh = () => problem(401, 'unauthenticated', 'the session has ended; sign in again');
  const changes: (AuthSession | null)[] = [];
  const client = createTenantryClient({ baseUrl, fetch: api.fetch, session: stale, onSessionChange: (s) => changes.push(s) });
  await assert.rejects(unwrap(listProjects({ client })), (e: unknown) => {
    assert.ok(e instanceof ProblemError);
    assert.equal(e.status, 401);
    assert.equal(e.detail, 'refused Bearer access-0', 'the answer to the request, not to the refresh');
    return true;
  });
  assert.deepEqual(changes, [null]);
  assert.equal(client.session.get(), null);
  assert.deepEqual(api.seen.map((r) => r.path), ['/v1/projects', '/v1/auth/refresh']);
  // Signed out: the next request carries no token and is not refreshed for.
  await assert.rejects(unwrap(listProjects({ client })), ProblemError);
  assert.equal(api.seen.at(-1)?.token, null);
  assert.equal(api.refreshes, 1);
});

test('a refresh that cannot be made keeps the session and answers the original 401', async () => {
  const api = new FakeApi();
  api.refresh = () => problem(503, 'unavailable', 'try again');
  const changes: (AuthSession | null)[] = [];
  const client = createTenantryClient({ baseUrl, fetch: api.fetch, session: stale, onSessionChange: (s) => changes.push(s) });
  await assert.rejects(unwrap(listProjects({ client })), (e: unknown) => e instanceof ProblemError && e.status === 401);
  assert.deepEqual(client.session.get(), stale);
  assert.deepEqual(changes, []);
  await assert.rejects(client.session.refresh(), (e: unknown) => e instanceof ProblemError && e.status === 503);
});

test('a replay refused again is answered as it is: no second refresh, no loop', async () => {
  const api = new FakeApi();
  api.refresh = () => {
    api.valid = 'access-never';
    return Response.json(authSession(1));
  };
  const client = createTenantryClient({ baseUrl, fetch: api.fetch, session: stale });
  await assert.rejects(unwrap(getMe({ client })), (e: unknown) => e instanceof ProblemError && e.status === 401);
  assert.deepEqual(api.seen.map((r) => r.path), ['/v1/me', '/v1/auth/refresh', '/v1/me']);
});

test('the auth endpoints carry no token and are never refreshed for', async () => {
  const api = new FakeApi();
  const changes: (AuthSession | null)[] = [];
  const client = createTenantryClient({ baseUrl, fetch: api.fetch, session: stale, onSessionChange: (s) => changes.push(s) });
  await assert.rejects(logIn(client, { email: 'ada@example.com', password: 'wrong' }), (e: unknown) => {
    return e instanceof ProblemError && e.status === 401;
  });
  assert.deepEqual(api.seen.map((r) => [r.path, r.token]), [['/v1/auth/login', null]]);
  assert.deepEqual(client.session.get(), stale, 'a failed sign-in leaves the session alone');
  const session = await logIn(client, { email: 'ada@example.com', password: 'right-one' });
  assert.equal(client.session.get()?.accessToken, session.access_token);
  assert.deepEqual(changes.map((s) => s?.access_token), ['access-5']);
});

test('an access token about to expire is refreshed before the request', async () => {
  const api = new FakeApi();
  const client = createTenantryClient({ baseUrl, fetch: api.fetch, session: { ...stale, expiresAt: Date.now() + 1000 } });
  await unwrap(listProjects({ client }));
  assert.deepEqual(api.seen.map((r) => [r.path, r.token]), [
    ['/v1/auth/refresh', null],
    ['/v1/projects', 'Bearer access-1'],
  ]);
  const expiresAt = client.session.get()?.expiresAt ?? 0;
  assert.ok(expiresAt > Date.now() + 890_000, 'expiresAt follows expires_in');
});

test('logOut forgets the session even when it had already ended', async () => {
  const api = new FakeApi();
  api.refresh = () => problem(401, 'unauthenticated', 'the session has ended');
  const changes: (AuthSession | null)[] = [];
  const client = createTenantryClient({ baseUrl, fetch: api.fetch, session: stale, onSessionChange: (s) => changes.push(s) });
  await logOut(client);
  assert.equal(client.session.get(), null);
  assert.deepEqual(changes, [null], 'told once');
  await logOut(client);
  assert.deepEqual(api.seen.map((r) => r.path), ['/v1/auth/logout', '/v1/auth/refresh']);
});

test('a session excludes the fixed credentials, and a held session replaces them', async () => {
  assert.throws(() => createTenantryClient({ baseUrl, apiKey: 'tnt_x', session: stale }), TypeError);
  assert.throws(() => createTenantryClient({ baseUrl, bearerToken: 'jwt', session: stale }), TypeError);
  const api = new FakeApi();
  api.valid = 'access-5';
  const client = createTenantryClient({ baseUrl, fetch: api.fetch, apiKey: 'tnt_x' });
  await logIn(client, { email: 'ada@example.com', password: 'right-one' });
  await unwrap(listProjects({ client }));
  assert.deepEqual(api.seen.at(-1), {
    method: 'GET',
    path: '/v1/projects',
    token: 'Bearer access-5',
    apiKey: null,
    body: '',
  });
});

const current: SessionTokens = { accessToken: 'access-1', refreshToken: 'tnr_refresh-1' };

test('switchTenant holds the new pair and tells onSessionChange once', async () => {
  const api = new FakeApi();
  const changes: (AuthSession | null)[] = [];
  const client = createTenantryClient({ baseUrl, fetch: api.fetch, session: current, onSessionChange: (s) => changes.push(s) });
  const session = await switchTenant(client, 'looms');
  assert.equal(session.tenant.slug, 'looms');
  assert.equal(session.role, 'viewer');
  assert.deepEqual(changes, [session], 'told once, with the whole session');
  assert.equal(client.session.get()?.accessToken, 'access-7');
  assert.equal(client.session.get()?.refreshToken, 'tnr_refresh-7');
  await unwrap(listProjects({ client }));
  assert.deepEqual(api.seen.map((r) => [r.method, r.path, r.token, r.body]), [
    ['POST', '/v1/auth/switch-tenant', 'Bearer access-1', '{"tenant":"looms"}'],
    ['GET', '/v1/projects', 'Bearer access-7', ''],
  ]);
});

test('a refused switch throws ProblemError and keeps the session', async () => {
  const api = new FakeApi();
  const changes: (AuthSession | null)[] = [];
  const client = createTenantryClient({ baseUrl, fetch: api.fetch, session: current, onSessionChange: (s) => changes.push(s) });
  await assert.rejects(switchTenant(client, 'elsewhere'), (e: unknown) => {
    assert.ok(e instanceof ProblemError);
    assert.equal(e.status, 404);
    assert.equal(e.code, 'not_found');
    return true;
  });
  assert.deepEqual(client.session.get(), current);
  assert.deepEqual(changes, []);
  assert.deepEqual(api.seen.map((r) => r.path), ['/v1/auth/switch-tenant']);
  await unwrap(listProjects({ client }));
  assert.equal(api.seen.at(-1)?.token, 'Bearer access-1');
});

test('a switch waits for the refresh in flight and is sent with its new token', async () => {
  const api = new FakeApi();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  api.refresh = async () => {
    await gate;
    api.valid = 'access-1';
    return Response.json(authSession(1));
  };
  const changes: (AuthSession | null)[] = [];
  const client = createTenantryClient({ baseUrl, fetch: api.fetch, session: stale, onSessionChange: (s) => changes.push(s) });
  const refreshing = client.session.refresh();
  while (api.refreshes < 1) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const switching = switchTenant(client, 'looms');
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(api.seen.map((r) => r.path), ['/v1/auth/refresh'], 'no switch while the refresh is out');
  release();
  await Promise.all([refreshing, switching]);
  assert.deepEqual(api.seen.map((r) => [r.path, r.token]), [
    ['/v1/auth/refresh', null],
    ['/v1/auth/switch-tenant', 'Bearer access-1'],
  ]);
  assert.deepEqual(changes.map((s) => s?.refresh_token), ['tnr_refresh-1', 'tnr_refresh-7']);
  assert.equal(client.session.get()?.accessToken, 'access-7');
});

test('a request refused during a switch waits for it and is replayed with the new token, without a refresh', async () => {
  const api = new FakeApi();
  let arrived!: () => void;
  const switchArrived = new Promise<void>((resolve) => (arrived = resolve));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  api.switchTo = async () => {
    api.valid = 'access-7'; // the server has moved the session: access-1 is refused from now on
    arrived();
    await gate;
    return Response.json(switched(7));
  };
  // The listing leaves with access-1 before the switch starts, and reaches the server after it.
  let left!: () => void;
  const listingLeft = new Promise<void>((resolve) => (left = resolve));
  const late: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    if (new URL(request.url).pathname === '/v1/projects' && request.headers.get('Authorization') === 'Bearer access-1') {
      left();
      await switchArrived;
    }
    return api.fetch(request);
  };
  const client = createTenantryClient({ baseUrl, fetch: late, session: current });
  const listing = unwrap(listProjects({ client }));
  await listingLeft;
  const switching = switchTenant(client, 'looms');
  while (api.seen.length < 2) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await new Promise((resolve) => setTimeout(resolve, 10)); // the listing's 401 is in
  release();
  await Promise.all([switching, listing]);
  assert.equal(api.refreshes, 0, 'the switch gave the new pair: nothing to refresh');
  assert.deepEqual(api.seen.map((r) => [r.path, r.token]), [
    ['/v1/auth/switch-tenant', 'Bearer access-1'],
    ['/v1/projects', 'Bearer access-1'],
    ['/v1/projects', 'Bearer access-7'],
  ]);
  assert.equal(client.session.get()?.refreshToken, 'tnr_refresh-7');
});
