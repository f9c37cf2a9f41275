//! The role × operation matrix, read from the emitted spec: every tenant or
//! person operation is called by an owner, an admin, a member, a viewer, and
//! by an API key holding each single scope. An operation states its rule in
//! its description (`Requires the `<scope>` scope.`, `Only the tenant's
//! owner, signed in`, or `Open to every …`); forbidden cells must answer 403,
//! allowed cells must succeed, and a credential the operation's security does
//! not accept gets 401. New operations are covered without editing this file
//! (one that needs a particular body or id may need a line below).

use serde_json::{Value, json};
use tenantry::access::{Role, Scope, Scopes};
use uuid::Uuid;

use crate::backends;
use crate::support::{PASSWORD, Person, TestApp};

backends!(every_role_and_scope_may_call_exactly_its_operations);

/// Operations that end or move the caller's session, tenant or role: each
/// allowed call of these gets a fresh tenant.
const DISRUPTIVE: &[&str] = &[
    "logout",
    "leave_tenant",
    "delete_tenant",
    "transfer_tenant_ownership",
    "revoke_other_sessions",
    "change_password",
    "switch_tenant",
];

/// The scopes each role holds, as the API promises them (written out here,
/// not read from the code under test): viewers read; members also write
/// projects and tasks; admins also manage API keys and members; owners also
/// manage the tenant.
fn role_scopes(role: Role) -> Vec<&'static str> {
    let mut scopes = vec!["projects:read", "tasks:read", "members:read"];
    if role >= Role::Member {
        scopes.extend(["projects:write", "tasks:write"]);
    }
    if role >= Role::Admin {
        scopes.extend(["api_keys:manage", "members:manage"]);
    }
    if role == Role::Owner {
        scopes.push("tenant:manage");
    }
    scopes
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Rule {
    Scope(Scope),
    Owner,
    Open,
}

fn rule_of(op_id: &str, description: &str) -> Rule {
    let description = description.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(rest) = description.split("Requires the `").nth(1) {
        let name = rest.split('`').next().unwrap_or_default();
        return Rule::Scope(Scope::parse(name).unwrap_or_else(|| panic!("{op_id}: unknown scope `{name}`")));
    }
    if description.contains("Only the tenant's owner, signed in") {
        return Rule::Owner;
    }
    assert!(
        description.contains("Open to every"),
        "{op_id} states its rule: `Requires the … scope`, `Only the tenant's owner, signed in` or `Open to every …`"
    );
    Rule::Open
}

#[derive(Debug, Clone)]
enum Who {
    Person(Role),
    Key(Scope),
}

/// A tenant with an owner, the caller (a person with a role, or a key), and
/// the caller's credential.
struct Fixture {
    owner: Person,
    credential: String,
    caller: Option<Person>,
}

async fn fixture(app: &TestApp, who: &Who) -> Fixture {
    let owner = app.signup("owner").await;
    match who {
        Who::Person(Role::Owner) => Fixture {
            credential: owner.access.clone(),
            caller: Some(owner.clone()),
            owner,
        },
        Who::Person(role) => {
            let caller = app.person_in(&owner.tenant_slug, *role).await;
            Fixture {
                credential: caller.access.clone(),
                caller: Some(caller),
                owner,
            }
        }
        Who::Key(scope) => {
            let scopes: Scopes = [*scope].into_iter().collect();
            let (key, _) = app.key(owner.tenant_id, scopes, None).await;
            Fixture {
                credential: key,
                caller: None,
                owner,
            }
        }
    }
}

/// Fresh rows for one call: path ids and, where the example will not do, a body.
async fn targets(
    app: &TestApp,
    f: &Fixture,
    op_id: &str,
    example: Option<Value>,
) -> (Vec<(&'static str, String)>, Option<Value>) {
    let project = app.project(&f.owner.access, "matrix").await;
    let task = app.task(&f.owner.access, &project, json!({"title": "matrix"})).await;
    // A key within the scopes of every credential that may revoke keys.
    let (_, key_id) = app
        .key(f.owner.tenant_id, [Scope::ApiKeysManage].into_iter().collect(), None)
        .await;
    let id = |v: &Value| v["id"].as_str().unwrap_or_default().to_owned();
    let mut ids = vec![
        ("projects", id(&project)),
        ("tasks", id(&task)),
        ("api-keys", key_id.to_string()),
    ];
    let mut body = example;
    if matches!(op_id, "update_member" | "delete_member" | "transfer_tenant_ownership") {
        let spare = app.person_in(&f.owner.tenant_slug, Role::Viewer).await;
        ids.push(("members", spare.user_id.to_string()));
        match op_id {
            "update_member" => body = Some(json!({"role": "member"})),
            "transfer_tenant_ownership" => body = Some(json!({"user_id": spare.user_id})),
            _ => {}
        }
    }
    if op_id == "leave_tenant" {
        // The last owner may not leave: give the tenant a second one.
        app.person_in(&f.owner.tenant_slug, Role::Owner).await;
    }
    if f.caller.is_none() {
        // Keys have no sessions; the call is refused before the id matters.
        ids.push(("sessions", Uuid::new_v4().to_string()));
    }
    if f.caller.is_none() && op_id == "create_api_key" {
        body = Some(json!({"name": "matrix", "scopes": ["api_keys:manage"]}));
    }
    if let Some(caller) = &f.caller {
        if op_id == "delete_session" {
            // Another session of the caller's own, to end.
            let other = app.login(&caller.email, PASSWORD, None).await.ok(200).clone();
            ids.push(("sessions", other["session_id"].as_str().unwrap_or_default().to_owned()));
        }
        match op_id {
            "change_password" => {
                body = Some(json!({"current_password": PASSWORD, "new_password": "matrix-walnut-harbor-93"}));
            }
            "switch_tenant" => body = Some(json!({"tenant": caller.tenant_slug})),
            "create_api_key" => body = Some(json!({"name": "matrix", "scopes": ["projects:read"]})),
            _ => {}
        }
    }
    (ids, body)
}

async fn every_role_and_scope_may_call_exactly_its_operations(app: TestApp) {
    let spec: Value = serde_json::from_str(&tenantry::openapi::spec_json()).expect("spec is JSON");
    let mut who: Vec<Who> = Role::ALL.into_iter().map(Who::Person).collect();
    who.extend(Scope::ALL.into_iter().map(Who::Key));
    let mut cells = 0;
    let mut forbidden = 0;
    for w in &who {
        let shared = fixture(&app, w).await;
        for (template, item) in spec["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let op_id = op["operationId"].as_str().unwrap_or("?");
                let security: Vec<&str> = op["security"]
                    .as_array()
                    .map(|s| {
                        s.iter()
                            .filter_map(|r| r.as_object()?.keys().next().map(String::as_str))
                            .collect()
                    })
                    .unwrap_or_default();
                if security.is_empty() {
                    continue;
                }
                let rule = rule_of(op_id, op["description"].as_str().unwrap_or_default());
                let accepted = match w {
                    Who::Person(_) => security.contains(&"BearerAuth"),
                    Who::Key(_) => security.contains(&"ApiKeyAuth"),
                };
                let allowed = accepted
                    && match (rule, w) {
                        (Rule::Open, _) => true,
                        (Rule::Owner, Who::Person(role)) => *role == Role::Owner,
                        (Rule::Owner, Who::Key(_)) => false,
                        (Rule::Scope(s), Who::Person(role)) => role_scopes(*role).contains(&s.as_str()),
                        (Rule::Scope(s), Who::Key(k)) => *k == s,
                    };
                let own;
                let f = if allowed && DISRUPTIVE.contains(&op_id) {
                    own = fixture(&app, w).await;
                    &own
                } else {
                    &shared
                };
                let example = op["requestBody"]["content"]["application/json; charset=utf-8"]["schema"]["$ref"]
                    .as_str()
                    .and_then(|r| r.rsplit('/').next())
                    .map(|name| spec["components"]["schemas"][name]["example"].clone());
                let (ids, body) = targets(&app, f, op_id, example).await;
                let mut path = template.clone();
                let segments: Vec<&str> = template.split('/').collect();
                for (i, segment) in segments.iter().enumerate() {
                    if segment.starts_with('{') {
                        let resource = segments[i - 1];
                        let id = ids
                            .iter()
                            .find(|(r, _)| *r == resource)
                            .map(|(_, id)| id.clone())
                            .unwrap_or_else(|| panic!("{op_id}: no target id for `{resource}`"));
                        path = path.replace(segment, &id);
                    }
                }
                let r = app
                    .call(&method.to_uppercase(), &path, Some(&f.credential), body.as_ref())
                    .await;
                let cell = format!("{op_id} as {w:?}");
                if !accepted {
                    r.problem(401, "unauthenticated");
                } else if allowed {
                    assert!(
                        (200..300).contains(&r.status),
                        "{cell} is allowed: {} {}",
                        r.status,
                        r.body
                    );
                } else {
                    assert_eq!(r.status, 403, "{cell} is forbidden: {}", r.body);
                    r.problem(403, "forbidden");
                    forbidden += 1;
                }
                cells += 1;
            }
        }
    }
    assert!(cells >= 12 * 25, "the matrix covered only {cells} cells");
    assert!(forbidden >= 50, "only {forbidden} forbidden cells");
}
