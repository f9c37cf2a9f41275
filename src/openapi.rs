//! The OpenAPI service over every API, and the spec it emits.
//!
//! poem-openapi writes the document; [`refine`] then states the rules it
//! has no attribute for, so that generated clients and API fuzzers see what
//! the server enforces:
//! - every request body schema rejects unknown fields (`additionalProperties:
//!   false`; the input types are `deny_unknown_fields`, answered with 400);
//! - the success responses of operations that carry a token or a secret
//!   declare `Cache-Control: no-store` and `Pragma: no-cache`, which the
//!   server sends on them ([`secret_operations`] finds them, here and at
//!   start);
//! - every `/v1` operation documents the `429` of its request budget, with
//!   `Retry-After`, and the `RateLimit-Policy` and `RateLimit` headers on
//!   its responses (those after authentication);
//! - every credentialed tenant operation that writes takes an
//!   `Idempotency-Key` header, and documents what it may answer
//!   ([`document_idempotency`]);
//! - every `/v1` read declares its `ETag`, `If-None-Match` and the `304`
//!   ([`document_conditional_reads`]).
//!
//! The same refined document is committed in `openapi/`, served at
//! `/openapi.json` and shown at `/docs`.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use poem_openapi::{LicenseObject, OpenApiService, ServerObject};

use crate::api::{
    api_keys::ApiKeysApi, auth::AuthApi, health::HealthApi, members::MembersApi, projects::ProjectsApi,
    tasks::TasksApi, tenant::TenantApi,
};

pub type Apis = (
    ProjectsApi,
    TasksApi,
    ApiKeysApi,
    MembersApi,
    TenantApi,
    AuthApi,
    HealthApi,
);

/// The API version; `info.version` in the spec.
pub const API_VERSION: &str = "1.4.0";

/// Response properties whose presence, at any depth, makes a response
/// carry a token or a secret.
pub const SECRET_PROPERTIES: [&str; 5] = ["access_token", "refresh_token", "key", "secret", "recovery_codes"];

pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            ProjectsApi,
            TasksApi,
            ApiKeysApi,
            MembersApi,
            TenantApi,
            AuthApi,
            HealthApi,
        ),
        "Tenantry API",
        API_VERSION,
    )
    .description(
        "A multi-tenant JSON API. Every `/v1` resource belongs to the tenant of the \
             credential that calls it (an `X-API-Key` or a person's bearer access token from \
             `/v1/auth/login`); another tenant's resources answer 404. Errors are \
             `application/problem+json` (RFC 9457). Lists are cursor-paginated: \
             `?limit=&cursor=` returns `{items, next_cursor}`.",
    )
    .license(LicenseObject::new("Apache-2.0").url("https://www.apache.org/licenses/LICENSE-2.0"))
    .server(ServerObject::new("/").description("The server that serves this document"))
}

/// A JSON document that keeps the order of object keys as written (the
/// order poem-openapi gives properties is the order clients and docs show).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(IndexMap<String, Json>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(map) => map.get(key),
            _ => None,
        }
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        match self {
            Json::Object(map) => map.get_mut(key),
            _ => None,
        }
    }

    fn entries(&self) -> impl Iterator<Item = (&String, &Json)> {
        match self {
            Json::Object(map) => Some(map.iter()),
            _ => None,
        }
        .into_iter()
        .flatten()
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }
}

fn json_string(s: &str) -> Json {
    Json::String(s.to_owned())
}

/// The name of the component a `{"$ref": "#/components/schemas/<name>"}` names.
fn ref_name(schema: &Json) -> Option<&str> {
    schema.get("$ref")?.as_str()?.strip_prefix("#/components/schemas/")
}

/// Every operation of the document: `(path, method, operation)`.
fn operations(spec: &Json) -> impl Iterator<Item = (&String, &String, &Json)> {
    spec.get("paths")
        .into_iter()
        .flat_map(Json::entries)
        .flat_map(|(path, item)| item.entries().map(move |(method, op)| (path, method, op)))
}

/// The schemas of every media type of `holder` (a request body or a response).
fn content_schemas(holder: &Json) -> impl Iterator<Item = &Json> {
    holder
        .get("content")
        .into_iter()
        .flat_map(Json::entries)
        .filter_map(|(_, media)| media.get("schema"))
}

/// Whether `schema` (following references) has a property named in
/// [`SECRET_PROPERTIES`] at any depth.
fn holds_secret(spec: &Json, schema: &Json, seen: &mut BTreeSet<String>) -> bool {
    if let Some(name) = ref_name(schema) {
        if !seen.insert(name.to_owned()) {
            return false;
        }
        return spec
            .get("components")
            .and_then(|c| c.get("schemas"))
            .and_then(|s| s.get(name))
            .is_some_and(|target| holds_secret(spec, target, seen));
    }
    let own = schema
        .get("properties")
        .into_iter()
        .flat_map(Json::entries)
        .any(|(name, property)| SECRET_PROPERTIES.contains(&name.as_str()) || holds_secret(spec, property, seen));
    let nested = ["items", "additionalProperties"]
        .iter()
        .filter_map(|k| schema.get(k))
        .chain(
            ["allOf", "anyOf", "oneOf"]
                .iter()
                .filter_map(|k| match schema.get(k) {
                    Some(Json::Array(list)) => Some(list),
                    _ => None,
                })
                .flatten(),
        )
        .any(|s| holds_secret(spec, s, seen));
    own || nested
}

fn is_success(status: &str) -> bool {
    status.starts_with('2')
}

/// The operation ids whose success responses carry a token or a secret.
pub fn secret_operations(spec: &Json) -> BTreeSet<String> {
    operations(spec)
        .filter(|(_, _, op)| {
            op.get("responses")
                .into_iter()
                .flat_map(Json::entries)
                .filter(|(status, _)| is_success(status))
                .flat_map(|(_, response)| content_schemas(response))
                .any(|schema| holds_secret(spec, schema, &mut BTreeSet::new()))
        })
        .filter_map(|(_, _, op)| op.get("operationId")?.as_str().map(str::to_owned))
        .collect()
}

/// Every operation that takes an `Idempotency-Key`: `(path, METHOD)`.
pub fn idempotent_operations(spec: &Json) -> Vec<(String, String)> {
    operations(spec)
        .filter(|(_, _, op)| {
            op.get("parameters").is_some_and(|params| match params {
                Json::Array(params) => params
                    .iter()
                    .any(|p| p.get("name").and_then(Json::as_str) == Some(IDEMPOTENCY_KEY)),
                _ => false,
            })
        })
        .map(|(path, method, _)| (path.clone(), method.to_ascii_uppercase()))
        .collect()
}

/// Every path template of the document with the methods it accepts (as
/// the router answers them: `HEAD` wherever `GET` is).
pub fn routes(spec: &Json) -> Vec<(String, Vec<String>)> {
    spec.get("paths")
        .into_iter()
        .flat_map(Json::entries)
        .map(|(path, item)| {
            let mut methods: Vec<String> = item.entries().map(|(m, _)| m.to_ascii_uppercase()).collect();
            if methods.iter().any(|m| m == "GET") {
                methods.push("HEAD".to_owned());
            }
            (path.clone(), methods)
        })
        .collect()
}

/// States in the document what poem-openapi cannot: see the module docs.
pub fn refine(spec: &mut Json) {
    let inputs: BTreeSet<String> = operations(spec)
        .filter_map(|(_, _, op)| op.get("requestBody"))
        .flat_map(content_schemas)
        .filter_map(|schema| ref_name(schema).map(str::to_owned))
        .collect();
    if let Some(Json::Object(schemas)) = spec.get_mut("components").and_then(|c| c.get_mut("schemas")) {
        for name in &inputs {
            if let Some(Json::Object(schema)) = schemas.get_mut(name) {
                schema.insert("additionalProperties".to_owned(), Json::Bool(false));
            }
        }
    }
    document_rate_limits(spec);
    document_idempotency(spec);
    document_conditional_reads(spec);
    let secret = secret_operations(spec);
    let no_store = Json::Object(IndexMap::from([
        (
            "Cache-Control".to_owned(),
            Json::Object(IndexMap::from([
                (
                    "description".to_owned(),
                    json_string("`no-store`: the response carries a token or a secret, which no cache may keep."),
                ),
                (
                    "schema".to_owned(),
                    Json::Object(IndexMap::from([("type".to_owned(), json_string("string"))])),
                ),
            ])),
        ),
        (
            "Pragma".to_owned(),
            Json::Object(IndexMap::from([
                (
                    "description".to_owned(),
                    json_string("`no-cache`, for HTTP/1.0 caches."),
                ),
                (
                    "schema".to_owned(),
                    Json::Object(IndexMap::from([("type".to_owned(), json_string("string"))])),
                ),
            ])),
        ),
    ]));
    let Some(Json::Object(paths)) = spec.get_mut("paths") else {
        return;
    };
    for item in paths.values_mut() {
        let Json::Object(item) = item else { continue };
        for op in item.values_mut() {
            let carries = op
                .get("operationId")
                .and_then(Json::as_str)
                .is_some_and(|id| secret.contains(id));
            if !carries {
                continue;
            }
            let Some(Json::Object(responses)) = op.get_mut("responses") else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                let Json::Object(response) = response else { continue };
                if !is_success(status) {
                    continue;
                }
                let headers = response
                    .entry("headers".to_owned())
                    .or_insert_with(|| Json::Object(IndexMap::new()));
                if let (Json::Object(headers), Json::Object(add)) = (headers, &no_store) {
                    headers.extend(add.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
    }
}

fn header(description: &str, schema_type: &str) -> Json {
    Json::Object(IndexMap::from([
        ("description".to_owned(), json_string(description)),
        (
            "schema".to_owned(),
            Json::Object(IndexMap::from([("type".to_owned(), json_string(schema_type))])),
        ),
    ]))
}

/// Statuses answered before the request's budget is drawn on: no
/// `RateLimit` headers on them.
const BEFORE_THE_LIMIT: [&str; 3] = ["401", "413", "415"];

/// Every `/v1` operation spends a request budget (`api::rate`): each
/// documents the `429` and the `RateLimit-Policy` and `RateLimit` headers.
fn document_rate_limits(spec: &mut Json) {
    let policy = header(
        "The request budgets this request drew on, each as `\"name\";q=<requests>;w=<seconds>` (IETF httpapi RateLimit header fields draft): `tenant` (shared by all the tenant's keys and people) or, for the operations no credential opens, `address` (the client address's).",
        "string",
    );
    let now = header(
        "Each budget now, as `\"name\";r=<requests remaining>;t=<seconds until it is full again>`.",
        "string",
    );
    let retry = header("Seconds to wait before trying again.", "integer");
    // Declared once under `components.headers`, referred to everywhere.
    if let Json::Object(root) = spec
        && let Json::Object(components) = root
            .entry("components".to_owned())
            .or_insert_with(|| Json::Object(IndexMap::new()))
        && let Json::Object(headers) = components
            .entry("headers".to_owned())
            .or_insert_with(|| Json::Object(IndexMap::new()))
    {
        headers.insert("RateLimitPolicy".to_owned(), policy);
        headers.insert("RateLimit".to_owned(), now);
        headers.insert("RetryAfter".to_owned(), retry);
    }
    let to = |name: &str| {
        Json::Object(IndexMap::from([(
            "$ref".to_owned(),
            json_string(&format!("#/components/headers/{name}")),
        )]))
    };
    let (policy, now, retry) = (to("RateLimitPolicy"), to("RateLimit"), to("RetryAfter"));
    let problem = Json::Object(IndexMap::from([(
        crate::error::PROBLEM_JSON.to_owned(),
        Json::Object(IndexMap::from([(
            "schema".to_owned(),
            Json::Object(IndexMap::from([(
                "$ref".to_owned(),
                json_string("#/components/schemas/Problem"),
            )])),
        )])),
    )]));
    let Some(Json::Object(paths)) = spec.get_mut("paths") else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        if !path.starts_with("/v1/") {
            continue;
        }
        let Json::Object(item) = item else { continue };
        for op in item.values_mut() {
            let Some(Json::Object(responses)) = op.get_mut("responses") else {
                continue;
            };
            let too_many = responses.entry("429".to_owned()).or_insert_with(|| {
                Json::Object(IndexMap::from([
                    (
                        "description".to_owned(),
                        json_string(crate::error::TOO_MANY_DESCRIPTION),
                    ),
                    ("content".to_owned(), problem.clone()),
                ]))
            });
            if let Json::Object(too_many) = too_many
                && let Json::Object(headers) = too_many
                    .entry("headers".to_owned())
                    .or_insert_with(|| Json::Object(IndexMap::new()))
            {
                headers.insert("Retry-After".to_owned(), retry.clone());
            }
            responses.sort_keys();
            for (status, response) in responses.iter_mut() {
                let Json::Object(response) = response else { continue };
                if BEFORE_THE_LIMIT.contains(&status.as_str()) {
                    continue;
                }
                if let Json::Object(headers) = response
                    .entry("headers".to_owned())
                    .or_insert_with(|| Json::Object(IndexMap::new()))
                {
                    headers.insert("RateLimit-Policy".to_owned(), policy.clone());
                    headers.insert("RateLimit".to_owned(), now.clone());
                }
            }
        }
    }
}

/// The header a write may carry to run once per key.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// Every credentialed tenant operation that writes (`POST`, `PATCH`,
/// `DELETE` under `/v1`, but `/v1/auth/*`) takes an `Idempotency-Key`
/// (`api::idempotency`): each declares the header, `Idempotent-Replayed`
/// on its successes, and the `409` and `422` of a key in progress or
/// reused.
fn document_idempotency(spec: &mut Json) {
    let parameter = Json::Object(IndexMap::from([
        ("name".to_owned(), json_string(IDEMPOTENCY_KEY)),
        ("in".to_owned(), json_string("header")),
        ("required".to_owned(), Json::Bool(false)),
        (
            "description".to_owned(),
            json_string(
                "Runs the request once per key: a retry with the same key and the same request (method, path, query and body) gets the first success again, with `Idempotent-Replayed: true`, for 24 hours. The key belongs to the tenant and the credential that sent it; only successes are kept, so a failed request may be retried with its key. The same key with another request is a `422` (`idempotency_key_reused`); while its first request runs, a `409` (`idempotency_in_progress`, `Retry-After: 1`).",
            ),
        ),
        (
            "schema".to_owned(),
            Json::Object(IndexMap::from([
                ("type".to_owned(), json_string("string")),
                ("minLength".to_owned(), Json::Number(1.into())),
                (
                    "maxLength".to_owned(),
                    Json::Number(crate::api::idempotency::MAX_LEN.into()),
                ),
                ("pattern".to_owned(), json_string("^[ -~]+$")),
            ])),
        ),
    ]));
    let replayed = header(
        "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`.",
        "string",
    );
    let problem = |description: &str, retry: bool| {
        let mut response = IndexMap::from([
            ("description".to_owned(), json_string(description)),
            (
                "content".to_owned(),
                Json::Object(IndexMap::from([(
                    crate::error::PROBLEM_JSON.to_owned(),
                    Json::Object(IndexMap::from([(
                        "schema".to_owned(),
                        Json::Object(IndexMap::from([(
                            "$ref".to_owned(),
                            json_string("#/components/schemas/Problem"),
                        )])),
                    )])),
                )])),
            ),
        ]);
        if retry {
            response.insert(
                "headers".to_owned(),
                Json::Object(IndexMap::from([(
                    "Retry-After".to_owned(),
                    Json::Object(IndexMap::from([(
                        "$ref".to_owned(),
                        json_string("#/components/headers/RetryAfter"),
                    )])),
                )])),
            );
        }
        Json::Object(response)
    };
    let Some(Json::Object(paths)) = spec.get_mut("paths") else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        if !path.starts_with("/v1/") || path.starts_with("/v1/auth/") {
            continue;
        }
        let Json::Object(item) = item else { continue };
        for (method, op) in item.iter_mut() {
            let credentialed = op
                .get("security")
                .is_some_and(|s| matches!(s, Json::Array(schemes) if !schemes.is_empty()));
            if !matches!(method.as_str(), "post" | "patch" | "delete") || !credentialed {
                continue;
            }
            let Json::Object(op) = op else { continue };
            if let Json::Array(params) = op
                .entry("parameters".to_owned())
                .or_insert_with(|| Json::Array(Vec::new()))
            {
                params.push(parameter.clone());
            }
            let Some(Json::Object(responses)) = op.get_mut("responses") else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                let Json::Object(response) = response else { continue };
                if !is_success(status) {
                    continue;
                }
                if let Json::Object(headers) = response
                    .entry("headers".to_owned())
                    .or_insert_with(|| Json::Object(IndexMap::new()))
                {
                    headers.insert("Idempotent-Replayed".to_owned(), replayed.clone());
                }
            }
            responses.entry("409".to_owned()).or_insert_with(|| {
                problem(
                    "Conflict: among others, a request with the same `Idempotency-Key` still running (`idempotency_in_progress`, with `Retry-After`).",
                    true,
                )
            });
            responses.entry("422".to_owned()).or_insert_with(|| {
                problem(
                    "Unprocessable: among others, an `Idempotency-Key` used for another request (`idempotency_key_reused`).",
                    false,
                )
            });
            responses.sort_keys();
        }
    }
}

/// Every `/v1` read answers with an `ETag` (`api::etag`) and takes
/// `If-None-Match`, answered `304` with no body when it names the tag.
fn document_conditional_reads(spec: &mut Json) {
    let parameter = Json::Object(IndexMap::from([
        ("name".to_owned(), json_string("If-None-Match")),
        ("in".to_owned(), json_string("header")),
        ("required".to_owned(), Json::Bool(false)),
        (
            "description".to_owned(),
            json_string(
                "`ETag`s of a copy the caller holds (or `*`): when one is current, the answer is a `304` with no body.",
            ),
        ),
        (
            "schema".to_owned(),
            Json::Object(IndexMap::from([("type".to_owned(), json_string("string"))])),
        ),
    ]));
    let etag = header(
        "A strong entity tag of this answer: for a resource with an `updated_at`, of its id and that version (what `If-Match` takes on its writes); for a list page, of its rows, their versions and its cursor.",
        "string",
    );
    let Some(Json::Object(paths)) = spec.get_mut("paths") else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        if !path.starts_with("/v1/") {
            continue;
        }
        let Json::Object(item) = item else { continue };
        let Some(Json::Object(op)) = item.get_mut("get") else {
            continue;
        };
        if let Json::Array(params) = op
            .entry("parameters".to_owned())
            .or_insert_with(|| Json::Array(Vec::new()))
        {
            params.push(parameter.clone());
        }
        let Some(Json::Object(responses)) = op.get_mut("responses") else {
            continue;
        };
        if let Some(Json::Object(ok)) = responses.get_mut("200")
            && let Json::Object(headers) = ok
                .entry("headers".to_owned())
                .or_insert_with(|| Json::Object(IndexMap::new()))
        {
            headers.insert("ETag".to_owned(), etag.clone());
        }
        responses.insert(
            "304".to_owned(),
            Json::Object(IndexMap::from([
                (
                    "description".to_owned(),
                    json_string("Not modified: `If-None-Match` names the current `ETag`; no body."),
                ),
                (
                    "headers".to_owned(),
                    Json::Object(IndexMap::from([("ETag".to_owned(), etag.clone())])),
                ),
            ])),
        );
        responses.sort_keys();
    }
}

/// The refined document.
pub fn spec() -> Json {
    refined(&service().spec())
}

/// poem-openapi's document `raw`, refined.
pub fn refined(raw: &str) -> Json {
    let mut spec: Json = serde_json::from_str(raw).expect("poem-openapi writes the spec as JSON");
    refine(&mut spec);
    spec
}

/// `spec` as pretty JSON with a trailing newline, as committed in `openapi/`.
pub fn to_text(spec: &Json) -> String {
    let mut text = serde_json::to_string_pretty(spec).unwrap_or_default();
    text.push('\n');
    text
}

/// The refined spec as committed in `openapi/`.
pub fn spec_json() -> String {
    to_text(&spec())
}
