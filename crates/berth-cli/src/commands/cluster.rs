//! What the verbs share on a `runtime: kubernetes` environment: a runtime for
//! the async client, the environment on its cluster (the context from
//! `--context`, else the environment's `context:`, else the kubeconfig's), and
//! its history, which lives in the cluster.

use berth_core::model::Runtime;
use berth_core::{Ecosystem, Problem, Problems, Project};
use berth_engine::history::History;
use berth_kube::{BlockingHistory, Environment};

use crate::cli::Global;

pub fn on_cluster(ecosystem: &Ecosystem) -> bool {
    ecosystem.environment.runtime == Runtime::Kubernetes
}

/// The environment `-e` names (or the file's first), when it runs on a cluster.
pub fn named<'a>(project: &'a Project, global: &Global) -> Option<&'a Ecosystem> {
    project
        .ecosystem(global.environment.as_deref())
        .ok()
        .filter(|ecosystem| on_cluster(ecosystem))
}

pub fn runtime() -> Result<tokio::runtime::Runtime, Problems> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Problems::one(Problem::new(format!("cannot start a runtime: {e}"))))
}

/// The kubeconfig's context: `--context`, else the environment's `context:`,
/// else (none) the kubeconfig's current one.
pub fn context(global: &Global, ecosystem: &Ecosystem) -> Option<String> {
    global
        .context
        .clone()
        .or_else(|| ecosystem.environment.context.clone())
}

pub async fn environment(global: &Global, ecosystem: &Ecosystem) -> Result<Environment, Problems> {
    let context = context(global, ecosystem);
    let cluster = berth_kube::connect(context.as_deref()).await.map_err(|e| {
        Problems::one(Problem::new(format!(
            "environment `{}` runs on kubernetes: {e}",
            ecosystem.environment_name
        )))
    })?;
    Ok(Environment::new(cluster, ecosystem))
}

/// Where the environment's deployments are kept: in its cluster for a
/// Kubernetes environment, else in .berth/ beside berth.yaml.
pub fn history(
    global: &Global,
    project: &Project,
    ecosystem: &Ecosystem,
) -> Result<Box<dyn History>, Problems> {
    if !on_cluster(ecosystem) {
        return Ok(Box::new(super::deploy::open(project)?));
    }
    let runtime = runtime()?;
    let environment = runtime.block_on(environment(global, ecosystem))?;
    Ok(Box::new(BlockingHistory::new(
        environment.history.clone(),
        runtime,
    )))
}

/// A failure on the cluster; one that never reached the API server says how to check it.
pub fn problem(message: String) -> Problems {
    let unreached = ["(Connect)", "tcp connect error", "dns error", "certificate"]
        .iter()
        .any(|sign| message.contains(sign));
    let problem = Problem::new(message);
    Problems::one(if unreached {
        problem.help("the API server did not answer; `kubectl cluster-info` (with the same context) checks it")
    } else {
        problem
    })
}
