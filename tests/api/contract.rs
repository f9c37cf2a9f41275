//! The spec's own rules, held to on the live server. Each test reads the
//! operations and schemas from the emitted spec, so an operation or field
//! added later is covered without editing this file:
//! - `null` for a property that is not `nullable` is a 422 naming it;
//! - a string one character over its `maxLength` is a 422 naming it;
//! - text declares `pattern: ^[^\u0000]*$`, and a NUL in it is a 422 naming it;
//! - a field the schema does not declare is a 400 (`additionalProperties: false`);
//! - every `example` is valid against its own schema;
//! - a response carrying a token or a secret is not cacheable;
//! - a `405` names the methods the path accepts in `Allow`.
//!
//! Bodies start from each input schema's `example`; every authenticated
//! call is made as a tenant's owner (who holds every scope), with random
//! ids in the path: the rules are checked before the credential's scope or
//! the path's row matter.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::backends;
use crate::support::{PASSWORD, Person, TestApp};

backends!(
    null_for_a_property_that_is_not_nullable_is_a_422_naming_it,
    one_character_over_max_length_is_a_422_naming_the_property,
    a_nul_in_a_property_whose_pattern_forbids_it_is_a_422_naming_it,
    a_property_the_schema_does_not_declare_is_a_400,
    responses_carrying_a_token_or_a_secret_are_not_cacheable,
);

fn spec() -> Value {
    serde_json::from_str(&tenantry::openapi::spec_json()).expect("the spec is JSON")
}

/// A `#/components/schemas/<name>` reference's target.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        Some(name) => &spec["components"]["schemas"][name],
        None => schema,
    }
}

/// An operation that takes a JSON body.
struct BodyOperation {
    id: String,
    method: String,
    path: String,
    security: Vec<String>,
    /// The request body's schema name.
    schema: String,
}

fn body_operations(spec: &Value) -> Vec<BodyOperation> {
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Some(content) = op["requestBody"]["content"].as_object() else {
                continue;
            };
            let schema = content
                .values()
                .find_map(|media| media["schema"]["$ref"].as_str())
                .and_then(|r| r.rsplit('/').next())
                .expect("a request body names its schema");
            let security = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_object()?.keys().next().cloned())
                .collect();
            found.push(BodyOperation {
                id: op["operationId"].as_str().unwrap_or("?").to_owned(),
                method: method.to_uppercase(),
                path: path.clone(),
                security,
                schema: schema.to_owned(),
            });
        }
    }
    assert!(found.len() >= 10, "only {} operations take a body", found.len());
    found
}

/// The path with a fresh id for every parameter.
fn with_ids(template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                uuid::Uuid::now_v7().to_string()
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A credential each operation's security accepts: the owner's access
/// token where people may call, else a key holding every scope.
struct Callers {
    owner: Person,
    key: String,
}

impl Callers {
    async fn new(app: &TestApp) -> Self {
        let owner = app.signup("owner").await;
        let key = app.key(owner.tenant_id, tenantry::access::Scopes::all(), None).await.0;
        Self { owner, key }
    }

    fn for_op(&self, op: &BodyOperation) -> Option<&str> {
        if op.security.iter().any(|s| s == "BearerAuth") {
            Some(&self.owner.access)
        } else if op.security.iter().any(|s| s == "ApiKeyAuth") {
            Some(&self.key)
        } else {
            None
        }
    }
}

fn example(spec: &Value, schema: &str) -> serde_json::Map<String, Value> {
    spec["components"]["schemas"][schema]["example"]
        .as_object()
        .cloned()
        .unwrap_or_else(|| panic!("input schema {schema} has an example"))
}

/// Sends, for every property of every request body that `bad` gives a
/// value for, the example with that property replaced, and expects a 422
/// naming it; `what` describes the value. How many cells were checked.
async fn each_breaks_its_rule(app: &TestApp, what: &str, bad: impl Fn(&str, &Value) -> Option<Value>) -> usize {
    let spec = spec();
    let callers = Callers::new(app).await;
    let mut checked = 0;
    for op in body_operations(&spec) {
        let schema = &spec["components"]["schemas"][&op.schema];
        for (field, property) in schema["properties"].as_object().into_iter().flatten() {
            let Some(value) = bad(&op.schema, property) else {
                continue;
            };
            let mut body = example(&spec, &op.schema);
            body.insert(field.clone(), value);
            let r = app
                .call(
                    &op.method,
                    &with_ids(&op.path),
                    callers.for_op(&op),
                    Some(&Value::Object(body)),
                )
                .await;
            let cell = format!("{}: `{field}` {what}", op.id);
            assert_eq!(r.status, 422, "{cell} is a 422: {}", r.body);
            r.problem(422, "validation_failed");
            assert!(r.fields().contains(field), "{cell} names `{field}`: {}", r.body);
            checked += 1;
        }
    }
    checked
}

async fn null_for_a_property_that_is_not_nullable_is_a_422_naming_it(app: TestApp) {
    let checked = each_breaks_its_rule(&app, "sent as null", |_, property| {
        (property["nullable"] != true).then_some(Value::Null)
    })
    .await;
    assert!(checked >= 20, "only {checked} non-nullable properties");
}

/// A string of exactly `chars` characters that is otherwise what `property` wants.
fn long_value(property: &Value, chars: usize) -> String {
    match property["format"].as_str() {
        Some("email") => format!("{}@example.com", "a".repeat(chars - "@example.com".len())),
        _ => "a".repeat(chars),
    }
}

async fn one_character_over_max_length_is_a_422_naming_the_property(app: TestApp) {
    let checked = each_breaks_its_rule(&app, "one character over its maxLength", |_, property| {
        let max = property["maxLength"].as_u64()? as usize;
        Some(Value::String(long_value(property, max + 1)))
    })
    .await;
    assert!(checked >= 15, "only {checked} properties with a maxLength");
}

/// The `pattern` of text that may hold anything but NUL.
const NO_NUL: &str = "^[^\\u0000]*$";

async fn a_nul_in_a_property_whose_pattern_forbids_it_is_a_422_naming_it(app: TestApp) {
    let checked = each_breaks_its_rule(&app, "holding a NUL", |schema, property| {
        if property["type"] != "string" || property["format"].is_string() {
            return None;
        }
        assert_eq!(
            property["pattern"], NO_NUL,
            "{schema}: every text property states that it takes no NUL"
        );
        let min = property["minLength"].as_u64().unwrap_or(0) as usize;
        Some(Value::String(format!("{}\0", "a".repeat(min))))
    })
    .await;
    assert!(checked >= 15, "only {checked} text properties");
}

async fn a_property_the_schema_does_not_declare_is_a_400(app: TestApp) {
    let spec = spec();
    let callers = Callers::new(&app).await;
    for op in body_operations(&spec) {
        let schema = &spec["components"]["schemas"][&op.schema];
        assert_eq!(
            schema["additionalProperties"], false,
            "{}: {} declares that it takes no other fields",
            op.id, op.schema
        );
        let mut body = example(&spec, &op.schema);
        body.insert("not_a_field".to_owned(), json!(1));
        let r = app
            .call(
                &op.method,
                &with_ids(&op.path),
                callers.for_op(&op),
                Some(&Value::Object(body)),
            )
            .await;
        assert_eq!(r.status, 400, "{}: an unknown field is a 400: {}", op.id, r.body);
        r.problem(400, "bad_request");
    }
}

/// Names that make a response carry a token or a secret, wherever they are.
const SECRET_PROPERTIES: [&str; 5] = ["access_token", "refresh_token", "key", "secret", "recovery_codes"];

fn holds_secret(spec: &Value, schema: &Value, seen: &mut BTreeSet<String>) -> bool {
    if let Some(name) = schema["$ref"].as_str() {
        return seen.insert(name.to_owned()) && holds_secret(spec, resolve(spec, schema), seen);
    }
    let properties = schema["properties"].as_object().into_iter().flatten();
    let nested = ["items", "additionalProperties"]
        .into_iter()
        .map(|k| &schema[k])
        .chain(
            ["allOf", "anyOf", "oneOf"]
                .into_iter()
                .flat_map(|k| schema[k].as_array().into_iter().flatten()),
        )
        .filter(|s| s.is_object())
        .collect::<Vec<_>>();
    properties
        .into_iter()
        .any(|(name, p)| SECRET_PROPERTIES.contains(&name.as_str()) || holds_secret(spec, p, seen))
        || nested.into_iter().any(|s| holds_secret(spec, s, seen))
}

/// A successful call of a secret-bearing operation, as `owner`.
async fn call_successfully(app: &TestApp, op_id: &str, owner: &mut Person, key: &str) -> crate::support::Resp {
    match op_id {
        "signup" => {
            let email = format!("new.{}@example.com", uuid::Uuid::new_v4().simple());
            let body = json!({"email": email, "password": PASSWORD, "name": "New", "tenant_name": "New team"});
            app.call("POST", "/v1/auth/signup", None, Some(&body)).await
        }
        "login" => app.login(&owner.email, &owner.password, None).await,
        "refresh_session" => {
            let r = app.refresh(&owner.refresh).await;
            if r.status == 200 {
                owner.renew(&r.body);
            }
            r
        }
        "switch_tenant" => {
            let r = app
                .post(
                    "/v1/auth/switch-tenant",
                    &owner.access.clone(),
                    json!({"tenant": owner.tenant_slug}),
                )
                .await;
            if r.status == 200 {
                owner.renew(&r.body);
            }
            r
        }
        "create_api_key" => app.post("/v1/api-keys", key, json!({"name": "cache test"})).await,
        other => panic!("{other} carries a token or a secret: add how to call it successfully here"),
    }
}

async fn responses_carrying_a_token_or_a_secret_are_not_cacheable(app: TestApp) {
    let spec = spec();
    let mut owner = app.signup("owner").await;
    let key = app.key(owner.tenant_id, tenantry::access::Scopes::all(), None).await.0;
    let mut found = Vec::new();
    for item in spec["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("path item").values() {
            let responses = op["responses"].as_object().expect("responses");
            let secret: Vec<&Value> = responses
                .iter()
                .filter(|(status, _)| status.starts_with('2'))
                .map(|(_, r)| r)
                .filter(|r| {
                    r["content"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .any(|(_, media)| holds_secret(&spec, &media["schema"], &mut BTreeSet::new()))
                })
                .collect();
            if secret.is_empty() {
                continue;
            }
            let id = op["operationId"].as_str().unwrap_or("?");
            for response in secret {
                assert!(
                    response["headers"]["Cache-Control"].is_object() && response["headers"]["Pragma"].is_object(),
                    "{id} documents Cache-Control and Pragma"
                );
            }
            found.push(id.to_owned());
        }
    }
    for id in ["signup", "login", "refresh_session", "switch_tenant", "create_api_key"] {
        assert!(found.iter().any(|f| f == id), "{id} carries a token or a secret");
    }
    for id in &found {
        let r = call_successfully(&app, id, &mut owner, &key).await;
        assert!((200..300).contains(&r.status), "{id} succeeds: {} {}", r.status, r.body);
        let header = |name: &str| r.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(
            header("cache-control").as_deref(),
            Some("no-store"),
            "{id}: Cache-Control"
        );
        assert_eq!(header("pragma").as_deref(), Some("no-cache"), "{id}: Pragma");
    }
    // An ordinary read is left to the usual rules.
    let r = app.get("/v1/tenant", &key).await;
    assert!(r.ok(200).is_object() && r.headers.get("cache-control").is_none());
}

/// OpenAPI 3.0 schemas as JSON Schema (2020-12): components under `$defs`,
/// `nullable` as a `null` type.
fn json_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                match k.as_str() {
                    "$ref" => {
                        let name = v.as_str().and_then(|r| r.rsplit('/').next()).unwrap_or_default();
                        out.insert(k.clone(), json!(format!("#/$defs/{name}")));
                    }
                    "nullable" | "example" => {}
                    "properties" => {
                        let props = v
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(name, p)| (name.clone(), json_schema(p)))
                            .collect();
                        out.insert(k.clone(), Value::Object(props));
                    }
                    _ => {
                        out.insert(k.clone(), json_schema(v));
                    }
                }
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                out = serde_json::Map::from_iter([("anyOf".to_owned(), json!([Value::Object(out), {"type": "null"}]))]);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(json_schema).collect()),
        other => other.clone(),
    }
}

#[test]
fn every_example_in_the_spec_is_valid_against_its_schema() {
    let spec = spec();
    let defs: serde_json::Map<String, Value> = spec["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .iter()
        .map(|(name, s)| (name.clone(), json_schema(s)))
        .collect();
    let mut examples: Vec<(String, Value, Value)> = Vec::new();
    for (name, schema) in spec["components"]["schemas"].as_object().expect("schemas") {
        if let Some(example) = schema.get("example") {
            examples.push((format!("schema {name}"), schema.clone(), example.clone()));
        }
        for (field, property) in schema["properties"].as_object().into_iter().flatten() {
            if let Some(example) = property.get("example") {
                examples.push((format!("{name}.{field}"), property.clone(), example.clone()));
            }
        }
    }
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            for param in op["parameters"].as_array().into_iter().flatten() {
                if let Some(example) = param.get("example") {
                    let at = format!("{method} {path} parameter {}", param["name"]);
                    examples.push((at, param["schema"].clone(), example.clone()));
                }
            }
            let bodies = std::iter::once(&op["requestBody"])
                .chain(op["responses"].as_object().into_iter().flatten().map(|(_, r)| r));
            for holder in bodies {
                for (media_type, media) in holder["content"].as_object().into_iter().flatten() {
                    if let Some(example) = media.get("example") {
                        let at = format!("{method} {path} {media_type}");
                        examples.push((at, media["schema"].clone(), example.clone()));
                    }
                }
            }
        }
    }
    assert!(examples.len() >= 12, "only {} examples", examples.len());
    for (at, schema, example) in examples {
        let mut root = json_schema(&schema);
        if let Value::Object(map) = &mut root {
            map.insert("$defs".to_owned(), Value::Object(defs.clone()));
        }
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{at}: its schema is valid JSON Schema: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&example)
            .map(|e| format!("{e} at `{}`", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{at}: the example {example} breaks its schema: {errors:?}"
        );
    }
}

#[tokio::test]
async fn a_405_names_the_methods_the_path_accepts() {
    let app = TestApp::spawn_sqlite().await;
    let spec = spec();
    let mut paths: Vec<(String, BTreeSet<String>)> = spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(template, item)| {
            let mut methods: BTreeSet<String> = item
                .as_object()
                .expect("path item")
                .keys()
                .map(|m| m.to_uppercase())
                .collect();
            if methods.contains("GET") {
                methods.insert("HEAD".to_owned());
            }
            (with_ids(template), methods)
        })
        .collect();
    paths.push(("/openapi.json".to_owned(), ["GET", "HEAD"].map(str::to_owned).into()));
    for (path, methods) in paths {
        let r = app.call("TRACE", &path, None, None).await;
        r.problem(405, "method_not_allowed");
        let allow: BTreeSet<String> = r
            .headers
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("TRACE {path}: a 405 carries Allow"))
            .split(',')
            .map(|m| m.trim().to_owned())
            .collect();
        assert_eq!(allow, methods, "TRACE {path}: Allow");
        // And the methods it names are routed: none of them is a 405.
        for method in &allow {
            let r = app.call(method, &path, None, None).await;
            assert_ne!(r.status, 405, "{method} {path} is allowed");
        }
    }
}
