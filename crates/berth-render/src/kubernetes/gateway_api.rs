//! The part of Gateway API's HTTPRoute (gateway.networking.k8s.io/v1) that berth
//! writes, typed as k8s-openapi types the core groups: Gateway API is a custom
//! resource, outside k8s-openapi, and its own crate pins another k8s-openapi.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRoute {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: HttpRouteSpec,
}

impl HttpRoute {
    pub fn new(metadata: ObjectMeta, spec: HttpRouteSpec) -> HttpRoute {
        HttpRoute {
            api_version: "gateway.networking.k8s.io/v1",
            kind: "HTTPRoute",
            metadata,
            spec,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    pub parent_refs: Vec<ParentReference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    pub rules: Vec<HttpRouteRule>,
}

#[derive(Serialize)]
pub struct ParentReference {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRule {
    pub matches: Vec<HttpRouteMatch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<HttpRouteFilter>,
    pub backend_refs: Vec<BackendRef>,
}

#[derive(Serialize)]
pub struct HttpRouteMatch {
    pub path: PathMatch,
}

#[derive(Serialize)]
pub struct PathMatch {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub value: String,
}

/// A `URLRewrite` filter that replaces the matched prefix.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteFilter {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub url_rewrite: UrlRewrite,
}

#[derive(Serialize)]
pub struct UrlRewrite {
    pub path: PathModifier,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathModifier {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub replace_prefix_match: String,
}

#[derive(Serialize)]
pub struct BackendRef {
    pub name: String,
    pub port: u16,
}
