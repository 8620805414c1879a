//! Least privilege: each service runs as its own ServiceAccount, without an API
//! token mounted, allowed only to read its own ConfigMap.

use berth_core::model::Service;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub fn access(
    name: &str,
    service: &Service,
    metadata: &ObjectMeta,
) -> (ServiceAccount, Role, RoleBinding) {
    let account = ServiceAccount {
        metadata: metadata.clone(),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    };
    let rules = (!service.env.is_empty()).then(|| {
        vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["configmaps".into()]),
            resource_names: Some(vec![format!("{name}-env")]),
            verbs: vec!["get".into()],
            ..PolicyRule::default()
        }]
    });
    let role = Role {
        metadata: metadata.clone(),
        rules,
    };
    let binding = RoleBinding {
        metadata: metadata.clone(),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: name.to_owned(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: name.to_owned(),
            namespace: metadata.namespace.clone(),
            ..Subject::default()
        }]),
    };
    (account, role, binding)
}
