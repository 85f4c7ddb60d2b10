//! The JSON APIs: the CLI's (`ci`, `otlp`) and the management API, with its OpenAPI document.

mod alerts;
mod channels;
mod ci;
pub mod dto;
mod integrations;
mod members;
mod otlp;
mod reports;
mod trends;

use crate::AppState;
use crate::error::ApiError;
use axum::Router;
use axum::routing::{get, post};
use clef_core::FieldError;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reports", post(ci::post_report))
        .route("/api/v1/reports/batch", post(ci::post_batch))
        .route("/v1/logs", post(otlp::post_logs))
        .route("/v1/checkpoint", get(otlp::get_checkpoint))
        .route("/api/v1/integrations", get(integrations::list).post(integrations::create))
        .route(
            "/api/v1/integrations/{id}",
            get(ci::get_integration).patch(integrations::update).delete(integrations::delete),
        )
        .route(
            "/api/v1/integrations/{id}/policies",
            get(integrations::get_policies).put(integrations::put_policies),
        )
        .route(
            "/api/v1/integrations/{id}/api-keys",
            get(integrations::list_api_keys).post(integrations::create_api_key),
        )
        .route(
            "/api/v1/integrations/{id}/api-keys/{key_id}",
            axum::routing::delete(integrations::revoke_api_key),
        )
        .route("/api/v1/integrations/{id}/reports", get(reports::list))
        .route("/api/v1/integrations/{id}/reports/{sha}", get(reports::get).delete(reports::delete))
        .route("/api/v1/integrations/{id}/matrix", get(reports::matrix))
        .route("/api/v1/integrations/{id}/checks", get(reports::checks))
        .route("/api/v1/integrations/{id}/alerts", get(alerts::list))
        .route("/api/v1/alerts", get(alerts::inbox))
        .route("/api/v1/alerts/export", get(trends::alerts))
        .route("/api/v1/trends", get(trends::get))
        .route("/api/v1/integrations/{id}/reports/export", get(trends::reports))
        .route("/api/v1/alerts/acknowledge", post(alerts::acknowledge_many))
        .route("/api/v1/alerts/{id}", get(alerts::get))
        .route("/api/v1/alerts/{id}/timeline", get(alerts::timeline))
        .route("/api/v1/alerts/{id}/reports", get(alerts::reports))
        .route("/api/v1/alerts/{id}/acknowledge", post(alerts::acknowledge))
        .route("/api/v1/alerts/{id}/unacknowledge", post(alerts::unacknowledge))
        .route("/api/v1/integrations/{id}/channels", get(channels::list).post(channels::create))
        .route(
            "/api/v1/integrations/{id}/channels/{channel_id}",
            axum::routing::patch(channels::update).delete(channels::delete),
        )
        .route("/api/v1/integrations/{id}/channels/{channel_id}/test", post(channels::test))
        .route("/api/v1/integrations/{id}/channels/{channel_id}/rotate-secret", post(channels::rotate_secret))
        .route("/api/v1/integrations/{id}/deliveries", get(channels::deliveries))
        .route("/api/v1/audit-log", get(integrations::audit_log))
        .route("/api/v1/members", get(members::list))
        .route("/api/v1/members/{id}", axum::routing::patch(members::update).delete(members::remove))
        .route("/api/v1/invitations", get(members::invitations).post(members::invite))
        .route("/api/v1/invitations/{id}", axum::routing::delete(members::revoke_invitation))
        .route("/api/v1/me", get(members::me))
        .route("/api/v1/me/tokens", get(members::tokens).post(members::create_token))
        .route("/api/v1/me/tokens/{id}", axum::routing::delete(members::revoke_token))
        .route("/api/openapi.json", get(openapi_json))
}

/// A `limit` query parameter within 1..=max, `default` when absent.
fn limit(raw: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match raw {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(FieldError::new("limit", format!("must be between 1 and {max}")).into()),
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Clef Pro", description = "Reporting and alerting for the Clef secrets CLI."),
    paths(
        ci::get_integration, ci::post_report, ci::post_batch, otlp::post_logs, otlp::get_checkpoint,
        integrations::create, integrations::list, integrations::update, integrations::delete,
        integrations::get_policies, integrations::put_policies, integrations::create_api_key,
        integrations::list_api_keys, integrations::revoke_api_key, integrations::audit_log,
        reports::list, reports::get, reports::delete, reports::matrix, reports::checks,
        alerts::inbox, alerts::list, alerts::get, alerts::timeline, alerts::reports, alerts::acknowledge,
        alerts::acknowledge_many, alerts::unacknowledge, trends::get, trends::alerts, trends::reports,
        channels::list, channels::create, channels::update, channels::delete, channels::test, channels::rotate_secret,
        channels::deliveries, members::list, members::update, members::remove, members::invitations,
        members::invite, members::revoke_invitation, members::me, members::tokens, members::create_token,
        members::revoke_token,
    ),
    modifiers(&BearerSchemes, &ErrorResponses)
)]
pub struct ApiDoc;

struct BearerSchemes;

impl utoipa::Modify for BearerSchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = |desc: &str| {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            http.description = Some(desc.to_owned());
            SecurityScheme::Http(http)
        };
        components.add_security_scheme("api_key", bearer("An integration API key (clefk_…), for CI."));
        components.add_security_scheme("token", bearer("A personal access token (clefp_…)."));
    }
}

/// Answers any operation can give, each with the one error body (`ErrorBody`): generated
/// clients and schemathesis see every status the server may send.
struct ErrorResponses;

const ERROR_RESPONSES: [(&str, &str); 11] = [
    ("400", "The request does not parse (JSON, query or form)."),
    ("401", "No credential, or one that is unknown, revoked or of the wrong kind."),
    ("403", "The credential's role may not do this."),
    ("404", "No such resource in the caller's organisation (a foreign id answers the same)."),
    ("408", "The request took longer than the server's request timeout."),
    ("413", "The body is larger than the server's body limit."),
    ("415", "The body is not `application/json`."),
    ("422", "The body parses but a field is invalid; `error.path` names it."),
    ("429", "Too many requests for this credential; retry after `Retry-After` seconds."),
    ("431", "The request headers are too large."),
    ("503", "The database is unavailable or busy; retry after `Retry-After` seconds."),
];

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        for item in doc.paths.paths.values_mut() {
            let operations =
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                for (code, description) in ERROR_RESPONSES {
                    operation.responses.responses.entry(code.to_owned()).or_insert_with(|| {
                        let body =
                            ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
                        ResponseBuilder::new()
                            .description(description)
                            .content("application/json", body)
                            .build()
                            .into()
                    });
                }
            }
        }
    }
}

async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
