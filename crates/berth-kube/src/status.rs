//! `berth status` on a cluster: each of the environment's workloads with its
//! replicas per revision and where its rollout stands, judged as a deploy
//! judges it.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Resource;
use kube::api::{Api, ListParams};
use serde::Serialize;

use crate::apply::said;
use crate::environment::Environment;
use crate::owner::{REVISION, SERVICE};
use crate::rollout::{self, Progress};

/// One workload as the cluster has it.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub service: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub desired: i32,
    pub ready: i32,
    /// Ready pods per revision, for a rollout under way.
    pub revisions: BTreeMap<String, i32>,
    pub state: String,
}

pub async fn status(environment: &Environment, namespaces: &[String]) -> Result<Vec<Row>, String> {
    let client = &environment.cluster.client;
    let params = ListParams::default().labels(&environment.owner.selector());
    let mut rows = Vec::new();
    for namespace in namespaces {
        let pods = Api::<Pod>::namespaced(client.clone(), namespace)
            .list(&params)
            .await
            .map_err(|e| format!("listing pods in {namespace}: {}", said(&e)))?
            .items;
        let deployments = Api::<Deployment>::namespaced(client.clone(), namespace);
        for deployment in deployments.list(&params).await.map_err(|e| said(&e))?.items {
            let desired = deployment
                .spec
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or(1);
            let ready = deployment
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            rows.push(row(
                &deployment,
                "Deployment",
                namespace,
                desired,
                ready,
                rollout::deployment(&deployment),
                &pods,
            ));
        }
        let sets = Api::<StatefulSet>::namespaced(client.clone(), namespace);
        for set in sets.list(&params).await.map_err(|e| said(&e))?.items {
            let desired = set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let ready = set
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            rows.push(row(
                &set,
                "StatefulSet",
                namespace,
                desired,
                ready,
                rollout::stateful_set(&set),
                &pods,
            ));
        }
        let jobs = Api::<Job>::namespaced(client.clone(), namespace);
        for job in jobs.list(&params).await.map_err(|e| said(&e))?.items {
            let succeeded = job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0);
            let completions = job.spec.as_ref().and_then(|s| s.completions).unwrap_or(1);
            rows.push(row(
                &job,
                "Job",
                namespace,
                completions,
                succeeded,
                rollout::job_with_pods(&job, &pods),
                &pods,
            ));
        }
    }
    rows.sort_by(|a, b| (&a.service, &a.name).cmp(&(&b.service, &b.name)));
    Ok(rows)
}

fn row<K: Resource>(
    object: &K,
    kind: &str,
    namespace: &str,
    desired: i32,
    ready: i32,
    progress: Progress,
    pods: &[Pod],
) -> Row {
    let meta = object.meta();
    let label = |key: &str| {
        meta.labels
            .as_ref()
            .and_then(|l| l.get(key))
            .cloned()
            .unwrap_or_default()
    };
    let service = label(SERVICE);
    let mut revisions = BTreeMap::new();
    // A pod being deleted (a canary's, after a rollback) runs no revision any more.
    for pod in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| p.metadata.labels.as_ref().and_then(|l| l.get(SERVICE)) == Some(&service))
    {
        let revision = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(REVISION))
            .cloned()
            .unwrap_or_default();
        *revisions.entry(revision).or_insert(0) += i32::from(rollout::ready(pod));
    }
    Row {
        service,
        kind: kind.to_owned(),
        namespace: namespace.to_owned(),
        name: meta.name.clone().unwrap_or_default(),
        desired,
        ready,
        revisions,
        state: match progress {
            Progress::Done => "ready".to_owned(),
            Progress::Waiting(what) => format!("rolling out: {what}"),
            Progress::Failed(why) => format!("failed: {why}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(revision: &str, ready: bool, deleting: bool) -> Pod {
        let mut pod = json!({
            "metadata": { "name": format!("web-{revision}"),
                "labels": { SERVICE: "web", REVISION: revision } },
            "status": { "conditions": [{ "type": "Ready",
                "status": if ready { "True" } else { "False" } }] },
        });
        if deleting {
            pod["metadata"]["deletionTimestamp"] = json!("2026-12-06T21:44:58Z");
        }
        serde_json::from_value(pod).unwrap()
    }

    #[test]
    fn ready_pods_are_counted_per_revision_and_pods_being_deleted_are_not() {
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": { "name": "web", "labels": { SERVICE: "web" } }
        }))
        .unwrap();
        let pods = [
            pod("a1", true, false),
            pod("a1", false, false),
            pod("b2", false, true),
        ];
        let row = row(
            &deployment,
            "Deployment",
            "shop",
            2,
            1,
            Progress::Done,
            &pods,
        );
        assert_eq!(row.revisions, BTreeMap::from([("a1".to_owned(), 1)]));
        assert_eq!(row.state, "ready");
    }
}
