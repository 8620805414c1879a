//! The objects one deployment applies: berth-render's typed objects for the
//! ecosystem, each stamped as this environment's at its service's revision, and
//! grouped as they are applied — what belongs to no service (namespaces, the
//! default-deny policy) first, then each service's own.

use berth_core::Ecosystem;
use berth_engine::Target;
use indexmap::IndexMap;
use serde_json::Value;

use crate::owner::{Owner, describe, service_of};
use crate::wait::{Workload, WorkloadKind};

/// A deployment's objects, grouped.
#[derive(Clone, Debug, Default)]
pub struct ObjectSet {
    pub shared: Vec<Value>,
    pub services: IndexMap<String, Vec<Value>>,
}

impl ObjectSet {
    /// The objects of `ecosystem` as this environment's.
    pub fn render(ecosystem: &Ecosystem, target: &Target, owner: &Owner) -> ObjectSet {
        let mut objects = berth_render::objects(ecosystem);
        for object in &mut objects {
            // What belongs to no service has no revision of its own: it changes
            // only when its content does.
            let revision = service_of(object)
                .and_then(|service| target.revisions.get(service))
                .map(ToString::to_string);
            owner.stamp(object, revision.as_deref());
        }
        ObjectSet::group(objects)
    }

    pub fn group(objects: Vec<Value>) -> ObjectSet {
        let mut set = ObjectSet::default();
        for object in objects {
            match service_of(&object).map(str::to_owned) {
                Some(service) => set.services.entry(service).or_default().push(object),
                None => set.shared.push(object),
            }
        }
        set
    }

    pub fn all(&self) -> impl Iterator<Item = &Value> {
        self.shared.iter().chain(self.services.values().flatten())
    }

    /// Every object, as the history keeps them.
    pub fn to_vec(&self) -> Vec<Value> {
        self.all().cloned().collect()
    }

    /// The same set with only the named services' objects (and the shared ones).
    pub fn only(&self, services: &[String]) -> ObjectSet {
        ObjectSet {
            shared: self.shared.clone(),
            services: self
                .services
                .iter()
                .filter(|(name, _)| services.contains(name))
                .map(|(name, objects)| (name.clone(), objects.clone()))
                .collect(),
        }
    }

    /// `Kind/namespace/name` of every object.
    pub fn names(&self) -> Vec<String> {
        self.all().map(describe).collect()
    }

    /// The namespaces the objects live in (and those they make).
    pub fn namespaces(&self) -> Vec<String> {
        let mut namespaces: Vec<String> = Vec::new();
        for object in self.all() {
            let namespace = match object["kind"].as_str() {
                Some("Namespace") => object.pointer("/metadata/name"),
                _ => object.pointer("/metadata/namespace"),
            };
            if let Some(namespace) = namespace.and_then(Value::as_str)
                && !namespaces.iter().any(|n| n == namespace)
            {
                namespaces.push(namespace.to_owned());
            }
        }
        namespaces
    }

    /// The workloads of `service` that a deploy waits for.
    pub fn workloads(&self, service: &str) -> Vec<Workload> {
        self.services
            .get(service)
            .into_iter()
            .flatten()
            .filter_map(|object| {
                Some(Workload {
                    kind: WorkloadKind::of(object["kind"].as_str()?)?,
                    namespace: object.pointer("/metadata/namespace")?.as_str()?.to_owned(),
                    name: object.pointer("/metadata/name")?.as_str()?.to_owned(),
                    service: service.to_owned(),
                    revision: object
                        .pointer("/metadata/labels")?
                        .get(crate::owner::REVISION)?
                        .as_str()?
                        .to_owned(),
                    applied: None,
                })
            })
            .collect()
    }
}
