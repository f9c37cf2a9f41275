//! Members, roles and the tenant's lifecycle: role changes, escalation
//! attempts, the last-owner rule (also under concurrency), removal and
//! leaving, switching tenants, ownership transfer and tenant deletion.

use serde_json::{Value, json};
use tenantry::access::Role;
use uuid::Uuid;

use crate::backends;
use crate::support::{PASSWORD, Person, TestApp};

backends!(
    members_are_listed_and_roles_change_with_fresh_tokens,
    nobody_grants_or_changes_a_role_above_their_own,
    the_last_owner_cannot_leave_be_removed_or_be_demoted,
    two_owners_stepping_down_at_once_leave_one_owner,
    a_removed_member_loses_their_sessions_in_that_tenant_only,
    switching_tenants_issues_a_new_pair_and_retires_the_old_tenant_token,
    ownership_moves_and_a_deleted_tenant_takes_its_data_and_sessions,
    api_keys_made_by_people_hold_at_most_their_scopes,
);

fn role_of(list: &Value, user: Uuid) -> String {
    list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|m| m["user_id"] == user.to_string()))
        .and_then(|m| m["role"].as_str())
        .unwrap_or("absent")
        .to_owned()
}

async fn members_are_listed_and_roles_change_with_fresh_tokens(app: TestApp) {
    let ada = app.signup("ada").await;
    let mut bob = app.person_in(&ada.tenant_slug, Role::Viewer).await;
    let list = app.get("/v1/members", &bob.access).await.ok(200).clone();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        list["items"][0]["user_id"],
        ada.user_id.to_string(),
        "oldest membership first"
    );
    assert_eq!(list["items"][0]["email"], ada.email);
    assert_eq!(role_of(&list, bob.user_id), "viewer");
    assert!(list["next_cursor"].is_null());
    let page = app.get("/v1/members?limit=1", &ada.access).await.ok(200).clone();
    assert!(page["next_cursor"].is_string());

    app.post("/v1/projects", &bob.access, json!({"name": "no"}))
        .await
        .problem(403, "forbidden");
    let promoted = app
        .patch(
            &format!("/v1/members/{}", bob.user_id),
            &ada.access,
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(promoted.ok(200)["role"], "member");
    // Bob's token carried `viewer`: it is refused now, and a refresh brings the new role.
    app.get("/v1/projects", &bob.access)
        .await
        .problem(401, "unauthenticated");
    let renewed = app.refresh(&bob.refresh).await.ok(200).clone();
    assert_eq!(renewed["role"], "member");
    bob.renew(&renewed);
    app.project(&bob.access, "now allowed").await;
    app.patch(
        &format!("/v1/members/{}", Uuid::new_v4()),
        &ada.access,
        json!({"role": "member"}),
    )
    .await
    .problem(404, "not_found");
    let bad = app
        .patch(
            &format!("/v1/members/{}", bob.user_id),
            &ada.access,
            json!({"role": "emperor"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}

async fn nobody_grants_or_changes_a_role_above_their_own(app: TestApp) {
    let ada = app.signup("ada").await;
    let admin = app.person_in(&ada.tenant_slug, Role::Admin).await;
    let viewer = app.person_in(&ada.tenant_slug, Role::Viewer).await;
    let path = |p: &Person| format!("/v1/members/{}", p.user_id);
    // An admin cannot make anyone an owner, nor touch the owner.
    app.patch(&path(&viewer), &admin.access, json!({"role": "owner"}))
        .await
        .problem(403, "forbidden");
    app.patch(&path(&admin), &admin.access, json!({"role": "owner"}))
        .await
        .problem(403, "forbidden");
    app.patch(&path(&ada), &admin.access, json!({"role": "viewer"}))
        .await
        .problem(403, "forbidden");
    app.delete(&path(&ada), &admin.access).await.problem(403, "forbidden");
    // … but manages those at or below their rank.
    assert_eq!(
        app.patch(&path(&viewer), &admin.access, json!({"role": "admin"}))
            .await
            .ok(200)["role"],
        "admin"
    );
    // A viewer manages nobody.
    let other_viewer = app.person_in(&ada.tenant_slug, Role::Viewer).await;
    app.patch(&path(&other_viewer), &other_viewer.access, json!({"role": "admin"}))
        .await
        .problem(403, "forbidden");
    // An API key acts as an admin at most, and never on owners.
    let (key, _) = app.key(ada.tenant_id, tenantry::access::Scopes::all(), None).await;
    app.patch(&path(&other_viewer), &key, json!({"role": "owner"}))
        .await
        .problem(403, "forbidden");
    app.delete(&path(&ada), &key).await.problem(403, "forbidden");
    assert_eq!(
        app.patch(&path(&other_viewer), &key, json!({"role": "member"}))
            .await
            .ok(200)["role"],
        "member"
    );
    // Owner-only operations are never open to keys or admins.
    app.delete("/v1/tenant", &key).await.problem(403, "forbidden");
    app.delete("/v1/tenant", &admin.access).await.problem(403, "forbidden");
    app.post("/v1/tenant/transfer-ownership", &key, json!({"user_id": admin.user_id}))
        .await
        .problem(403, "forbidden");
}

async fn the_last_owner_cannot_leave_be_removed_or_be_demoted(app: TestApp) {
    let ada = app.signup("ada").await;
    let path = format!("/v1/members/{}", ada.user_id);
    app.call("POST", "/v1/members/leave", Some(&ada.access), None)
        .await
        .problem(409, "conflict");
    app.delete(&path, &ada.access).await.problem(409, "conflict");
    app.patch(&path, &ada.access, json!({"role": "admin"}))
        .await
        .problem(409, "conflict");
    // With a second owner, the first may step down.
    let grace = app.person_in(&ada.tenant_slug, Role::Owner).await;
    assert_eq!(
        app.patch(&path, &ada.access, json!({"role": "admin"})).await.ok(200)["role"],
        "admin"
    );
    let list = app.get("/v1/members", &grace.access).await.ok(200).clone();
    assert_eq!(role_of(&list, ada.user_id), "admin");
    assert_eq!(role_of(&list, grace.user_id), "owner");
}

async fn two_owners_stepping_down_at_once_leave_one_owner(app: TestApp) {
    for _ in 0..5 {
        let ada = app.signup("ada").await;
        let grace = app.person_in(&ada.tenant_slug, Role::Owner).await;
        let (ada_path, grace_path) = (
            format!("/v1/members/{}", ada.user_id),
            format!("/v1/members/{}", grace.user_id),
        );
        let admin = json!({"role": "admin"});
        let (a, b) = tokio::join!(
            app.patch(&ada_path, &ada.access, admin.clone()),
            app.patch(&grace_path, &grace.access, admin.clone())
        );
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "{} / {}", a.body, b.body);
        let (key, _) = app.key(ada.tenant_id, tenantry::access::Scopes::all(), None).await;
        let list = app.get("/v1/members", &key).await.ok(200).clone();
        let owners = list["items"]
            .as_array()
            .map(|m| m.iter().filter(|m| m["role"] == "owner").count())
            .unwrap_or_default();
        assert_eq!(owners, 1, "exactly one owner remains: {list}");
    }
}

fn add_member(app: &TestApp, tenant_slug: &str, email: &str, role: &str) {
    let out = app.cli(
        &[
            "member",
            "add",
            "--tenant",
            tenant_slug,
            "--email",
            email,
            "--role",
            role,
        ],
        "",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

async fn a_removed_member_loses_their_sessions_in_that_tenant_only(app: TestApp) {
    let ada = app.signup("ada").await;
    let carol = app.signup("carol").await;
    add_member(&app, &ada.tenant_slug, &carol.email, "member");
    let in_ada = app
        .login(&carol.email, PASSWORD, Some(&ada.tenant_slug))
        .await
        .ok(200)
        .clone();
    let in_ada_token = in_ada["access_token"].as_str().unwrap_or_default().to_owned();
    app.get("/v1/projects", &in_ada_token).await.ok(200);

    assert_eq!(
        app.delete(&format!("/v1/members/{}", carol.user_id), &ada.access)
            .await
            .status,
        204
    );
    app.get("/v1/projects", &in_ada_token)
        .await
        .problem(401, "unauthenticated");
    app.refresh(in_ada["refresh_token"].as_str().unwrap_or_default())
        .await
        .problem(401, "unauthenticated");
    app.login(&carol.email, PASSWORD, Some(&ada.tenant_slug))
        .await
        .problem(404, "not_found");
    // Her session in her own tenant is untouched.
    app.get("/v1/projects", &carol.access).await.ok(200);
    app.refresh(&carol.refresh).await.ok(200);

    // Leaving works the same way.
    let dave = app.person_in(&ada.tenant_slug, Role::Viewer).await;
    assert_eq!(
        app.call("POST", "/v1/members/leave", Some(&dave.access), None)
            .await
            .status,
        204
    );
    app.get("/v1/projects", &dave.access)
        .await
        .problem(401, "unauthenticated");
    let list = app.get("/v1/members", &ada.access).await.ok(200).clone();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
}

async fn switching_tenants_issues_a_new_pair_and_retires_the_old_tenant_token(app: TestApp) {
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let eve = app.signup("eve").await;
    add_member(&app, &bob.tenant_slug, &ada.email, "viewer");
    let me = app.get("/v1/me", &ada.access).await.ok(200).clone();
    assert_eq!(me["memberships"].as_array().map(Vec::len), Some(2));

    // Not a member of Eve's tenant: 404, whether by slug or id.
    app.post(
        "/v1/auth/switch-tenant",
        &ada.access,
        json!({"tenant": eve.tenant_slug}),
    )
    .await
    .problem(404, "not_found");
    let switched = app
        .post(
            "/v1/auth/switch-tenant",
            &ada.access,
            json!({"tenant": bob.tenant_id.to_string()}),
        )
        .await
        .ok(200)
        .clone();
    assert_eq!(switched["tenant"]["id"], bob.tenant_id.to_string());
    assert_eq!(switched["role"], "viewer");
    assert_eq!(
        switched["session_id"],
        ada.session_id.to_string(),
        "the same session moves"
    );
    assert_ne!(switched["refresh_token"], ada.refresh.as_str());
    // The token for the previous tenant is retired; the new one acts in Bob's.
    app.get("/v1/projects", &ada.access)
        .await
        .problem(401, "unauthenticated");
    let token = switched["access_token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        app.get("/v1/tenant", &token).await.ok(200)["id"],
        bob.tenant_id.to_string()
    );
    app.post("/v1/projects", &token, json!({"name": "no"}))
        .await
        .problem(403, "forbidden");
    // The session list shows it in its new tenant; a later login lands there.
    let sessions = app.get("/v1/auth/sessions", &token).await.ok(200).clone();
    assert_eq!(sessions["items"][0]["tenant_id"], bob.tenant_id.to_string());
    let again = app.login(&ada.email, PASSWORD, None).await.ok(200).clone();
    assert_eq!(again["tenant"]["id"], bob.tenant_id.to_string());
    // Refreshing the switched session keeps it in Bob's tenant.
    let renewed = app
        .refresh(switched["refresh_token"].as_str().unwrap_or_default())
        .await
        .ok(200)
        .clone();
    assert_eq!(renewed["tenant"]["id"], bob.tenant_id.to_string());
}

async fn ownership_moves_and_a_deleted_tenant_takes_its_data_and_sessions(app: TestApp) {
    let ada = app.signup("ada").await;
    let grace = app.person_in(&ada.tenant_slug, Role::Member).await;
    let project = app.project(&ada.access, "to be deleted").await;
    app.post(
        "/v1/tenant/transfer-ownership",
        &ada.access,
        json!({"user_id": Uuid::new_v4()}),
    )
    .await
    .problem(404, "not_found");
    app.post(
        "/v1/tenant/transfer-ownership",
        &grace.access,
        json!({"user_id": grace.user_id}),
    )
    .await
    .problem(403, "forbidden");
    assert_eq!(
        app.post(
            "/v1/tenant/transfer-ownership",
            &ada.access,
            json!({"user_id": grace.user_id})
        )
        .await
        .status,
        204
    );
    // Both tokens carried the old roles: refresh for the new ones.
    app.get("/v1/members", &ada.access)
        .await
        .problem(401, "unauthenticated");
    let ada_now = app.refresh(&ada.refresh).await.ok(200).clone();
    assert_eq!(ada_now["role"], "admin");
    let grace_now = app.refresh(&grace.refresh).await.ok(200).clone();
    assert_eq!(grace_now["role"], "owner");
    let grace_token = grace_now["access_token"].as_str().unwrap_or_default().to_owned();
    let ada_token = ada_now["access_token"].as_str().unwrap_or_default().to_owned();

    // Renaming needs tenant:manage (owners).
    app.patch("/v1/tenant", &ada_token, json!({"name": "Nope"}))
        .await
        .problem(403, "forbidden");
    app.patch("/v1/tenant", &grace_token, json!({"name": ""}))
        .await
        .problem(422, "validation_failed");
    let renamed = app
        .patch("/v1/tenant", &grace_token, json!({"name": "Grace & Co"}))
        .await;
    assert_eq!(renamed.ok(200)["name"], "Grace & Co");

    // Deleting: the owner only; every session in it ends; the data goes.
    app.delete("/v1/tenant", &ada_token).await.problem(403, "forbidden");
    assert_eq!(app.delete("/v1/tenant", &grace_token).await.status, 204);
    app.get("/v1/projects", &grace_token)
        .await
        .problem(401, "unauthenticated");
    app.get("/v1/projects", &ada_token)
        .await
        .problem(401, "unauthenticated");
    app.login(&ada.email, PASSWORD, None).await.problem(403, "forbidden");
    let other = app.sibling().await;
    other.state.poll_revocations().await;
    let req = crate::support::with_credential(app.http.get(format!("{}/v1/tenant", other.base)), &grace_token);
    app.send(req).await.problem(401, "unauthenticated");
    let (key_holder, _) = (app.tenant("after").await, ());
    let gone = format!("/v1/projects/{}", project["id"].as_str().unwrap_or_default());
    app.get(&gone, &key_holder.key).await.problem(404, "not_found");
}

async fn api_keys_made_by_people_hold_at_most_their_scopes(app: TestApp) {
    let ada = app.signup("ada").await;
    let admin = app.person_in(&ada.tenant_slug, Role::Admin).await;
    // An admin lacks tenant:manage, so cannot give it to a key.
    app.post(
        "/v1/api-keys",
        &admin.access,
        json!({"name": "too much", "scopes": ["tenant:manage"]}),
    )
    .await
    .problem(403, "forbidden");
    let key = app
        .post("/v1/api-keys", &admin.access, json!({"name": "ci"}))
        .await
        .ok(201)
        .clone();
    let scopes: Vec<&str> = key["scopes"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(!scopes.contains(&"tenant:manage"), "{scopes:?}");
    assert!(scopes.contains(&"members:manage"));
    // The owner's key may rename the tenant, but never delete it.
    let owner_key = app
        .post("/v1/api-keys", &ada.access, json!({"name": "owner's"}))
        .await
        .ok(201)
        .clone();
    let owner_key = owner_key["key"].as_str().unwrap_or_default();
    app.patch("/v1/tenant", owner_key, json!({"name": "Renamed by key"}))
        .await
        .ok(200);
    app.delete("/v1/tenant", owner_key).await.problem(403, "forbidden");
}
