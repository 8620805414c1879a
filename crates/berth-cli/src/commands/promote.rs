//! `berth promote` and `berth abort`: a paused or running deployment goes on, or
//! stops and restores the previous revision.

use berth_core::Problems;
use berth_local::Request;

use super::Exit;
use super::session::ask;
use crate::cli::Global;

pub fn promote(global: &Global) -> Result<Exit, Problems> {
    if let Some(told) = on_cluster(global, false)? {
        return Ok(told);
    }
    ask(global, &Request::Promote, "promoted: a paused step goes on")
}

pub fn abort(global: &Global) -> Result<Exit, Problems> {
    if let Some(told) = on_cluster(global, true)? {
        return Ok(told);
    }
    ask(
        global,
        &Request::Abort,
        "aborting: the previous revision is being restored",
    )
}

/// On a cluster the deploying berth is wherever `berth deploy` runs: it is
/// told through the environment's Lease, which it watches. `None` for an
/// environment that is not on a cluster.
fn on_cluster(global: &Global, abort: bool) -> Result<Option<Exit>, Problems> {
    use super::cluster;
    let project = super::load(global)?;
    let Some(ecosystem) = cluster::named(&project, global) else {
        return Ok(None);
    };
    cluster::runtime()?.block_on(async {
        let environment = cluster::environment(global, ecosystem).await?;
        berth_kube::tell(
            &environment.cluster.client,
            &environment.namespace,
            &environment.owner.environment,
            abort,
        )
        .await
        .map_err(cluster::problem)
    })?;
    println!(
        "{}",
        if abort {
            "aborting: the deployment restores the previous revision"
        } else {
            "promoted: a paused step goes on"
        }
    );
    Ok(Some(Exit::Success))
}
