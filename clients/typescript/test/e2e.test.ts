// End-to-end tests of the built package against a live server. The server
// address and keys come from the environment (set by the Rust test
// `tests/api/clients.rs`, or by hand):
//   TENANTRY_BASE_URL, TENANTRY_API_KEY (every scope),
//   TENANTRY_READONLY_KEY (projects:read and tasks:read only),
//   TENANTRY_LIMITED_BASE_URL and TENANTRY_LIMITED_API_KEY (a server whose
//   tenants may send 2 requests a second, and a key of a tenant of its own).
// The sessions tests sign up new people (and tenants) with fresh emails. The
// tenant-switch test also runs the server's CLI (`tenantry member add`) with
//   TENANTRY_BIN (the `tenantry` binary), DATABASE_URL and TENANTRY_DATA_DIR
// of that server.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

import {
  ProblemError,
  createProject,
  createTask,
  createTenantryClient,
  deleteProject,
  deleteTask,
  getCurrentApiKey,
  getMe,
  getProject,
  getTask,
  getTenant,
  listProjectTasks,
  listProjects,
  listSessions,
  listTasks,
  logIn,
  logOut,
  logout,
  paginate,
  refreshSession,
  signUp,
  switchTenant,
  unwrap,
  updateProject,
  updateTask,
  type AuthSession,
  type Task,
} from '../dist/index.js';

function env(name: string): string {
  const value = process.env[name];
  assert.ok(value, `${name} must be set: these tests run against a live server`);
  return value;
}

const baseUrl = env('TENANTRY_BASE_URL');
const client = createTenantryClient({ baseUrl, apiKey: env('TENANTRY_API_KEY') });
const readonly = createTenantryClient({ baseUrl, apiKey: env('TENANTRY_READONLY_KEY') });
const run = Date.now().toString(36);

async function rejectsWith(pending: Promise<unknown>, status: number, code: string): Promise<ProblemError> {
  try {
    await pending;
  } catch (e) {
    assert.ok(e instanceof ProblemError, `a ProblemError, got ${String(e)}`);
    assert.equal(e.status, status);
    assert.equal(e.code, code);
    return e;
  }
  assert.fail(`expected ${status} ${code}`);
}

test('projects and tasks: create, get, update, delete', async () => {
  const project = await unwrap(createProject({ client, body: { name: `crud ${run}` } }));
  assert.equal(project.description, null);
  const got = await unwrap(getProject({ client, path: { id: project.id } }));
  assert.deepEqual(got, project);
  const renamed = await unwrap(
    updateProject({ client, path: { id: project.id }, body: { name: `renamed ${run}`, description: 'd' } }),
  );
  assert.equal(renamed.name, `renamed ${run}`);
  const cleared = await unwrap(updateProject({ client, path: { id: project.id }, body: { description: null } }));
  assert.equal(cleared.description, null);

  const task = await unwrap(
    createTask({ client, path: { project_id: project.id }, body: { title: 'write', priority: 2, due_date: '2027-01-31' } }),
  );
  assert.equal(task.status, 'todo');
  assert.equal(task.due_date, '2027-01-31');
  const done = await unwrap(updateTask({ client, path: { id: task.id }, body: { status: 'done', due_date: null } }));
  assert.equal(done.status, 'done');
  assert.equal(done.due_date, null);
  assert.equal((await unwrap(getTask({ client, path: { id: task.id } }))).title, 'write');
  await unwrap(deleteTask({ client, path: { id: task.id } }));
  await rejectsWith(unwrap(getTask({ client, path: { id: task.id } })), 404, 'not_found');
  await unwrap(deleteProject({ client, path: { id: project.id } }));
  await rejectsWith(unwrap(getProject({ client, path: { id: project.id } })), 404, 'not_found');
});

test('the paginator walks 250 projects with none missing and no duplicates', async () => {
  const created = new Set<string>();
  for (let batch = 0; batch < 25; batch++) {
    const made = await Promise.all(
      Array.from({ length: 10 }, (_, i) => unwrap(createProject({ client, body: { name: `walk ${run} ${batch}-${i}` } }))),
    );
    for (const p of made) created.add(p.id);
  }
  assert.equal(created.size, 250);
  const first = await unwrap(listProjects({ client, query: { limit: 20 } }));
  assert.equal(first.items.length, 20, 'a page holds exactly `limit` items when more follow');
  assert.ok(first.next_cursor, 'more pages follow');
  const seen: string[] = [];
  for await (const project of paginate(listProjects, { client, query: { limit: 20 } })) {
    seen.push(project.id);
  }
  assert.equal(new Set(seen).size, seen.length, 'no duplicates');
  for (const id of created) assert.ok(seen.includes(id), `${id} was walked`);
});

test('tasks filter by status and project and sort by due date, undated last', async () => {
  const project = await unwrap(createProject({ client, body: { name: `tasks ${run}` } }));
  const other = await unwrap(createProject({ client, body: { name: `other ${run}` } }));
  const path = { project_id: project.id };
  const late = await unwrap(createTask({ client, path, body: { title: 'late', due_date: '2027-05-01' } }));
  const none = await unwrap(createTask({ client, path, body: { title: 'none' } }));
  const early = await unwrap(createTask({ client, path, body: { title: 'early', due_date: '2027-01-01', status: 'done' } }));
  await unwrap(createTask({ client, path: { project_id: other.id }, body: { title: 'elsewhere', status: 'done' } }));

  const ids = (tasks: Task[]) => tasks.map((t) => t.id);
  const collect = async (query: Parameters<typeof listTasks>[0]) => {
    const out: Task[] = [];
    for await (const t of paginate(listTasks, { client, ...query })) out.push(t);
    return out;
  };
  assert.deepEqual(ids(await collect({ query: { project_id: project.id, sort: 'due_date', limit: 1 } })), [early.id, late.id, none.id]);
  assert.deepEqual(
    ids(await collect({ query: { project_id: project.id, sort: 'due_date', direction: 'desc', limit: 2 } })),
    [late.id, early.id, none.id],
  );
  assert.deepEqual(ids(await collect({ query: { project_id: project.id, status: 'done' } })), [early.id]);
  const inProject: Task[] = [];
  for await (const t of paginate(listProjectTasks, { client, path, query: { status: 'todo', sort: 'due_date' } })) {
    inProject.push(t);
  }
  assert.deepEqual(ids(inProject), [late.id, none.id]);
});

test('problems arrive as typed errors with their field errors', async () => {
  await rejectsWith(unwrap(getProject({ client, path: { id: '00000000-0000-7000-8000-000000000000' } })), 404, 'not_found');
  const invalid = await rejectsWith(
    unwrap(createProject({ client, body: { name: 'n'.repeat(201), description: 'd'.repeat(10_001) } })),
    422,
    'validation_failed',
  );
  assert.deepEqual(invalid.errors.map((e) => e.field).sort(), ['description', 'name']);
  assert.ok(invalid.errors.every((e) => e.code === 'too_long'));
});

test('a bad key is a 401 and a missing scope a 403', async () => {
  const stranger = createTenantryClient({ baseUrl, apiKey: 'tnt_000000000000000000000000000000' });
  await rejectsWith(unwrap(listProjects({ client: stranger })), 401, 'unauthenticated');
  await rejectsWith(unwrap(createProject({ client: readonly, body: { name: 'nope' } })), 403, 'forbidden');
  const me = await unwrap(getCurrentApiKey({ client: readonly }));
  assert.deepEqual(me.api_key.scopes, ['projects:read', 'tasks:read']);
  await unwrap(listProjects({ client: readonly }));
});

/** `token` with one character of its signature changed: well-formed, and refused. */
function corrupted(token: string): string {
  const [header, payload, signature] = token.split('.');
  assert.ok(header && payload && signature, 'a JWT');
  const i = 10;
  return `${header}.${payload}.${signature.slice(0, i)}${signature[i] === 'A' ? 'B' : 'A'}${signature.slice(i + 1)}`;
}

test('sessions: signup, login, refresh once for concurrent 401s, logout', async () => {
  const calls: string[] = [];
  const counting: typeof fetch = (input, init) => {
    const request = new Request(input, init);
    calls.push(`${request.method} ${new URL(request.url).pathname}`);
    return fetch(request);
  };
  const count = (call: string) => calls.filter((c) => c === call).length;
  const changes: (AuthSession | null)[] = [];
  const client = createTenantryClient({ baseUrl, fetch: counting, onSessionChange: (s) => changes.push(s) });
  const email = `ts-${run}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const password = 'plum-orbit-lantern-47';

  const signed = await signUp(client, { email: email.toUpperCase(), password, name: 'Ada', tenant_name: `TS ${run}` });
  assert.equal(signed.token_type, 'Bearer');
  assert.equal(signed.role, 'owner');
  assert.equal(signed.user.email, email, 'stored lowercase');
  assert.ok(signed.expires_in > 0 && signed.expires_in <= 900);
  assert.ok(signed.refresh_token.startsWith('tnr_'));
  assert.deepEqual(changes, [signed]);
  assert.equal(client.session.get()?.accessToken, signed.access_token);

  // The bearer token reaches the tenant's resources.
  const project = await unwrap(createProject({ client, body: { name: `bearer ${run}` } }));
  assert.deepEqual((await unwrap(listProjects({ client }))).items.map((p) => p.id), [project.id]);

  // A second device.
  const device = createTenantryClient({ baseUrl });
  const second = await logIn(device, { email, password, tenant: signed.tenant.slug });
  assert.equal(second.tenant.id, signed.tenant.id);
  assert.notEqual(second.session_id, signed.session_id);
  const sessions = (await unwrap(listSessions({ client: device }))).items;
  assert.deepEqual(sessions.map((s) => s.id).sort(), [signed.session_id, second.session_id].sort());
  assert.deepEqual(sessions.filter((s) => s.current).map((s) => s.id), [second.session_id]);

  // An explicit refresh rotates the pair; within 10 s a replay of the old
  // refresh token gets the same new one (two tabs refreshing at once).
  const before = client.session.get();
  assert.ok(before);
  const fresh = await client.session.refresh();
  assert.notEqual(fresh.refresh_token, before.refreshToken);
  assert.equal(client.session.get()?.refreshToken, fresh.refresh_token);
  assert.deepEqual(changes.at(-1), fresh);
  const bare = createTenantryClient({ baseUrl });
  const replayed = await unwrap(refreshSession({ client: bare, body: { refresh_token: before.refreshToken } }));
  assert.equal(replayed.refresh_token, fresh.refresh_token);
  await unwrap(listProjects({ client }));

  // A refused access token: three concurrent requests, one refresh, all answered.
  client.session.set({ accessToken: corrupted(fresh.access_token), refreshToken: fresh.refresh_token });
  calls.length = 0;
  const pages = await Promise.all([1, 2, 3].map(() => unwrap(listProjects({ client }))));
  assert.ok(pages.every((p) => p.items.some((i) => i.id === project.id)));
  assert.equal(count('POST /v1/auth/refresh'), 1, calls.join(', '));
  assert.equal(count('GET /v1/projects'), 6, 'three refused, three replayed');
  const renewed = changes.at(-1);
  assert.ok(renewed);
  assert.notEqual(renewed.refresh_token, fresh.refresh_token);
  assert.equal(client.session.get()?.accessToken, renewed.access_token);
  assert.equal(client.session.get()?.refreshToken, renewed.refresh_token);

  // The person's view of themselves.
  const me = await unwrap(getMe({ client }));
  assert.equal(me.user.id, signed.user.id);
  assert.equal(me.user.email, email);
  assert.equal(me.tenant_id, signed.tenant.id);
  assert.equal(me.session_id, signed.session_id);
  assert.deepEqual(me.memberships.map((m) => [m.tenant.id, m.role]), [[signed.tenant.id, 'owner']]);
  assert.ok(!Number.isNaN(Date.parse(me.memberships[0]?.joined_at ?? '')));

  // Ended on the server (the generated logout leaves the tokens in place):
  // the next request is refused, its refresh is refused too, and the 401
  // surfaces without a loop.
  await unwrap(logout({ client }));
  calls.length = 0;
  await rejectsWith(unwrap(listProjects({ client })), 401, 'unauthenticated');
  assert.deepEqual(calls, ['GET /v1/projects', 'POST /v1/auth/refresh']);
  assert.equal(changes.at(-1), null);
  assert.equal(client.session.get(), null);
  await rejectsWith(unwrap(getMe({ client })), 401, 'unauthenticated');
  assert.equal(count('POST /v1/auth/refresh'), 1);

  // The helper ends the second device's session and forgets it.
  await logOut(device);
  assert.equal(device.session.get(), null);
  const ended = createTenantryClient({ baseUrl, bearerToken: second.access_token });
  await rejectsWith(unwrap(getMe({ client: ended })), 401, 'unauthenticated');
});

/** Adds the person `email` to the tenant `slug` with the server's CLI (no HTTP endpoint adds an existing person). */
function addMember(slug: string, email: string, role: string): { tenant_id: string; role: string } {
  const out = execFileSync(env('TENANTRY_BIN'), ['member', 'add', '--tenant', slug, '--email', email, '--role', role], {
    env: {
      ...process.env,
      DATABASE_URL: env('DATABASE_URL'),
      TENANTRY_DATA_DIR: env('TENANTRY_DATA_DIR'),
      TENANTRY_LOG: 'warn',
    },
    encoding: 'utf8',
  });
  return JSON.parse(out) as { tenant_id: string; role: string };
}

test('switchTenant: a person in two tenants moves their session to the other one', async () => {
  const password = 'plum-orbit-lantern-47';
  const tag = `${run}-${Math.random().toString(36).slice(2, 8)}`;
  const changes: (AuthSession | null)[] = [];
  const ada = createTenantryClient({ baseUrl, onSessionChange: (s) => changes.push(s) });
  const adaEmail = `ts-switch-a-${tag}@example.com`;
  const home = await signUp(ada, { email: adaEmail, password, name: 'Ada', tenant_name: `TS home ${tag}` });
  const bea = createTenantryClient({ baseUrl });
  const beaEmail = `ts-switch-b-${tag}@example.com`;
  const other = await signUp(bea, { email: beaEmail, password, name: 'Bea', tenant_name: `TS other ${tag}` });
  const added = addMember(other.tenant.slug, adaEmail, 'viewer');
  assert.deepEqual([added.tenant_id, added.role], [other.tenant.id, 'viewer']);
  assert.equal((await unwrap(getTenant({ client: ada }))).id, home.tenant.id);

  const before = ada.session.get();
  assert.ok(before);
  changes.length = 0;
  const switched = await switchTenant(ada, other.tenant.slug);
  assert.equal(switched.tenant.id, other.tenant.id);
  assert.equal(switched.role, 'viewer');
  assert.equal(switched.session_id, home.session_id, 'the same session');
  assert.notEqual(switched.access_token, before.accessToken);
  assert.notEqual(switched.refresh_token, before.refreshToken);
  assert.deepEqual(changes, [switched], 'told once');
  assert.equal(ada.session.get()?.accessToken, switched.access_token);
  assert.equal(ada.session.get()?.refreshToken, switched.refresh_token);

  // The client now answers for the other tenant; the previous access token is refused.
  assert.equal((await unwrap(getTenant({ client: ada }))).id, other.tenant.id);
  assert.equal((await unwrap(getMe({ client: ada }))).tenant_id, other.tenant.id);
  const previous = createTenantryClient({ baseUrl, bearerToken: before.accessToken });
  await rejectsWith(unwrap(getTenant({ client: previous })), 401, 'unauthenticated');

  // A tenant the person does not belong to (the suite's own): 404, and the session stays.
  const foreign = await unwrap(getTenant({ client }));
  await rejectsWith(switchTenant(ada, foreign.slug), 404, 'not_found');
  assert.equal(ada.session.get()?.accessToken, switched.access_token);
  assert.equal(changes.length, 1);

  // And back, by id.
  const back = await switchTenant(ada, home.tenant.id);
  assert.deepEqual([back.tenant.id, back.role], [home.tenant.id, 'owner']);
  assert.equal((await unwrap(getTenant({ client: ada }))).id, home.tenant.id);
  await logOut(ada);
  await logOut(bea);
});

test('a spent request budget is a 429 with Retry-After, sent again after it when asked', async () => {
  // A server whose tenants may send 2 requests a second (bursts of 2).
  const limitedUrl = env('TENANTRY_LIMITED_BASE_URL');
  const key = env('TENANTRY_LIMITED_API_KEY');
  const plain = createTenantryClient({ baseUrl: limitedUrl, apiKey: key });
  const answer = await listProjects({ client: plain });
  assert.equal(answer.response?.headers.get('RateLimit-Policy'), '"tenant";q=2;w=1');
  assert.match(answer.response?.headers.get('RateLimit') ?? '', /^"tenant";r=\d;t=\d+$/);
  let refused: ProblemError | undefined;
  for (let i = 0; i < 10 && refused === undefined; i++) {
    try {
      await unwrap(listProjects({ client: plain }));
    } catch (e) {
      assert.ok(e instanceof ProblemError, `a ProblemError, got ${String(e)}`);
      refused = e;
    }
  }
  assert.ok(refused, 'the budget ran out');
  assert.equal(refused.status, 429);
  assert.equal(refused.code, 'rate_limited');
  assert.equal(refused.retryAfter, 1);

  // Opted in, every write lands once, its body sent again as it was.
  const retrying = createTenantryClient({ baseUrl: limitedUrl, apiKey: key, retryRateLimited: true });
  const names = [0, 1, 2, 3].map((n) => `retried ${run} ${n}`);
  const made = await Promise.all(names.map((name) => unwrap(createProject({ client: retrying, body: { name } }))));
  assert.deepEqual(made.map((p) => p.name).sort(), [...names].sort());
  // A wait longer than allowed answers the 429.
  const impatient = createTenantryClient({
    baseUrl: limitedUrl,
    apiKey: key,
    retryRateLimited: { maxRetries: 3, maxWaitSeconds: 0 },
  });
  let gaveUp = false;
  for (let i = 0; i < 10 && !gaveUp; i++) {
    const { response } = await listProjects({ client: impatient });
    gaveUp = response?.status === 429;
  }
  assert.ok(gaveUp, 'a 429 whose wait is too long comes back');
});
