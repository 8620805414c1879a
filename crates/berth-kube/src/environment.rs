//! One environment on its cluster: the client, what the server serves, whose
//! objects berth looks for, and where its history and lock live — the
//! ecosystem's namespace.

use berth_core::Ecosystem;

use crate::cluster::Cluster;
use crate::history::ClusterHistory;
use crate::kinds::Kinds;
use crate::owner::Owner;
use crate::pod_watch::PodWatches;

pub struct Environment {
    pub cluster: Cluster,
    pub kinds: Kinds,
    pub owner: Owner,
    pub namespace: String,
    pub history: ClusterHistory,
    /// The Prometheus that canary analysis asks, when the environment names one.
    pub prometheus: Option<String>,
    /// Every namespace the ecosystem's services live in, its own first.
    pub namespaces: Vec<String>,
    /// The watches of berth's pods that waits share.
    pub pods: PodWatches,
}

impl Environment {
    pub fn new(cluster: Cluster, ecosystem: &Ecosystem) -> Environment {
        let owner = Owner {
            ecosystem: ecosystem.name.clone(),
            environment: ecosystem.environment_name.clone(),
        };
        let namespace = ecosystem.namespace().to_owned();
        let mut namespaces = vec![namespace.clone()];
        for service in ecosystem.services.values() {
            if let Some(own) = &service.namespace
                && !namespaces.contains(own)
            {
                namespaces.push(own.clone());
            }
        }
        Environment {
            kinds: Kinds::new(cluster.client.clone()),
            pods: PodWatches::new(cluster.client.clone(), owner.selector()),
            history: ClusterHistory::new(cluster.client.clone(), &namespace, owner.clone()),
            prometheus: ecosystem.environment.prometheus.clone(),
            namespaces,
            cluster,
            owner,
            namespace,
        }
    }
}
