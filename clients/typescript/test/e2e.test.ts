// End-to-end tests of the built package against a live server. The server
// address and keys come from the environment (set by the Rust test
// `tests/api/clients.rs`, or by hand):
//   TENANTRY_BASE_URL, TENANTRY_API_KEY (every scope),
//   TENANTRY_READONLY_KEY (projects:read and tasks:read only).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ProblemError,
  createProject,
  createTask,
  createTenantryClient,
  deleteProject,
  deleteTask,
  getCurrentApiKey,
  getProject,
  getTask,
  listProjectTasks,
  listProjects,
  listTasks,
  paginate,
  unwrap,
  updateProject,
  updateTask,
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
