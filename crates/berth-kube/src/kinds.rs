//! Which API resource serves an object's `apiVersion` and `kind`, asked of the
//! server once per group-version. A kind the server does not serve — a CRD not
//! installed, such as Gateway API's HTTPRoute or Istio's VirtualService — is
//! `None`, for the pre-flight to list.

use std::collections::HashMap;

use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersion;
use kube::discovery::{ApiCapabilities, ApiResource, Scope, pinned_group};
use serde_json::Value;

use crate::apply::said;
use crate::owner::describe;
use tokio::sync::Mutex;

/// The resources of one group-version; `None` when the server has no such group-version.
type Served = Option<Vec<(ApiResource, ApiCapabilities)>>;

/// The kinds every API server of a supported version serves, known without
/// asking: discovery is only for what a CRD may serve.
fn built_in(api_version: &str, kind: &str) -> Option<(ApiResource, Scope)> {
    use k8s_openapi::api::{apps, autoscaling, batch, core, networking, policy, rbac};
    fn namespaced<K: kube::Resource<DynamicType = ()>>() -> (ApiResource, Scope) {
        (ApiResource::erase::<K>(&()), Scope::Namespaced)
    }
    Some(match (api_version, kind) {
        ("v1", "Namespace") => (
            ApiResource::erase::<core::v1::Namespace>(&()),
            Scope::Cluster,
        ),
        ("v1", "Service") => namespaced::<core::v1::Service>(),
        ("v1", "ConfigMap") => namespaced::<core::v1::ConfigMap>(),
        ("v1", "Secret") => namespaced::<core::v1::Secret>(),
        ("v1", "Pod") => namespaced::<core::v1::Pod>(),
        ("v1", "ServiceAccount") => namespaced::<core::v1::ServiceAccount>(),
        ("v1", "PersistentVolumeClaim") => namespaced::<core::v1::PersistentVolumeClaim>(),
        ("apps/v1", "Deployment") => namespaced::<apps::v1::Deployment>(),
        ("apps/v1", "StatefulSet") => namespaced::<apps::v1::StatefulSet>(),
        ("batch/v1", "Job") => namespaced::<batch::v1::Job>(),
        ("batch/v1", "CronJob") => namespaced::<batch::v1::CronJob>(),
        ("networking.k8s.io/v1", "NetworkPolicy") => namespaced::<networking::v1::NetworkPolicy>(),
        ("networking.k8s.io/v1", "Ingress") => namespaced::<networking::v1::Ingress>(),
        ("rbac.authorization.k8s.io/v1", "Role") => namespaced::<rbac::v1::Role>(),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => namespaced::<rbac::v1::RoleBinding>(),
        ("policy/v1", "PodDisruptionBudget") => namespaced::<policy::v1::PodDisruptionBudget>(),
        ("autoscaling/v2", "HorizontalPodAutoscaler") => {
            namespaced::<autoscaling::v2::HorizontalPodAutoscaler>()
        }
        _ => return None,
    })
}

/// What the server serves, as far as berth has asked.
pub struct Kinds {
    client: Client,
    served: Mutex<HashMap<String, Served>>,
}

impl Kinds {
    pub fn new(client: Client) -> Kinds {
        Kinds {
            client,
            served: Mutex::new(HashMap::new()),
        }
    }

    /// The resource of `api_version` `kind`; `None` when the server has no such kind.
    pub async fn resource(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<(ApiResource, Scope)>, String> {
        if let Some(known) = built_in(api_version, kind) {
            return Ok(Some(known));
        }
        let mut served = self.served.lock().await;
        if !served.contains_key(api_version) {
            let gv: GroupVersion = api_version
                .parse()
                .map_err(|e| format!("apiVersion `{api_version}`: {e}"))?;
            let resources = match pinned_group(&self.client, &gv).await {
                Ok(group) => Some(group.versioned_resources(&gv.version)),
                Err(kube::Error::Api(status)) if status.code == 404 => None,
                Err(e) => return Err(format!("cannot ask the API server what it serves: {e}")),
            };
            served.insert(api_version.to_owned(), resources);
        }
        Ok(served[api_version].as_ref().and_then(|resources| {
            resources
                .iter()
                .find(|(resource, _)| resource.kind == kind)
                .map(|(resource, capabilities)| (resource.clone(), capabilities.scope.clone()))
        }))
    }

    /// The object of `object`'s kind and name as the cluster has it; `None`
    /// when it has none.
    pub async fn live(&self, object: &Value) -> Result<Option<DynamicObject>, String> {
        let api = self.api_for(object).await?;
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        api.get_opt(name)
            .await
            .map_err(|e| format!("reading {}: {}", describe(object), said(&e)))
    }

    /// The API of `object`'s kind in its namespace; an error for a kind the
    /// server does not serve.
    pub async fn api_for(&self, object: &Value) -> Result<Api<DynamicObject>, String> {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let (resource, scope) = self
            .resource(api_version, kind)
            .await?
            .ok_or_else(|| format!("the API server does not serve {kind} ({api_version})"))?;
        Ok(
            match (
                scope,
                object
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str),
            ) {
                (Scope::Namespaced, Some(namespace)) => {
                    Api::namespaced_with(self.client.clone(), namespace, &resource)
                }
                (Scope::Namespaced, None) => {
                    Api::default_namespaced_with(self.client.clone(), &resource)
                }
                (Scope::Cluster, _) => Api::all_with(self.client.clone(), &resource),
            },
        )
    }
}
