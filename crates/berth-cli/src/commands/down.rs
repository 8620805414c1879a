//! `berth down`: stop a running berth's services, dependents first; for a Docker
//! environment also remove what a killed berth left on the Engine; and with
//! `--volumes` delete the data stores' data.

use std::time::{Duration, Instant};

use berth_core::model::Runtime;
use berth_core::{Ecosystem, Problem, Problems, Project};
use berth_local::Request;

use super::session::{Found, Session};
use super::{Exit, hosted, load};
use crate::cli::Global;

pub fn run(global: &Global, volumes: bool) -> Result<Exit, Problems> {
    let project = load(global)?;
    if let Some(ecosystem) = super::cluster::named(&project, global) {
        return on_cluster(global, ecosystem, volumes);
    }
    let session = Session::in_dir(project.dir());
    // The environment that runs, whatever `-e` says; else the one asked for.
    let environment = session.environment().or_else(|| global.environment.clone());
    let ecosystem = project.ecosystem(environment.as_deref())?;
    let on_engine = ecosystem.environment.runtime == Runtime::Compose;
    match session.found() {
        Found::Running(pid) => {
            session.request(&Request::Down)?;
            wait_until_gone(&session, pid)?;
            println!("stopped berth (pid {pid})");
        }
        Found::Gone(pid) => {
            session.clear_leftovers();
            if on_engine {
                println!("berth (pid {pid}) had already gone");
            } else {
                println!("berth (pid {pid}) had already gone; its services went with it");
            }
        }
        Found::Nothing => println!("nothing is running"),
    }
    if on_engine {
        remove_from_engine(&project, ecosystem, volumes)?;
    } else if volumes {
        delete_data(&session)?;
    }
    Ok(Exit::Success)
}

/// Deletes berth's objects of the environment from its cluster; the claims too
/// with `volumes`.
fn on_cluster(global: &Global, ecosystem: &Ecosystem, volumes: bool) -> Result<Exit, Problems> {
    use super::cluster;
    let down = cluster::runtime()?.block_on(async {
        let environment = cluster::environment(global, ecosystem).await?;
        berth_kube::down::down(&environment, &environment.namespaces, volumes, &|line| {
            eprintln!("{line}")
        })
        .await
        .map_err(cluster::problem)
    })?;
    if down.deleted.is_empty() {
        println!(
            "nothing of `{}` was left in its cluster",
            ecosystem.environment_name
        );
    } else {
        println!(
            "deleted {} objects of `{}`:",
            down.deleted.len(),
            ecosystem.environment_name
        );
        for name in &down.deleted {
            println!("  {name}");
        }
    }
    if !down.going.is_empty() {
        println!(
            "still being taken away, which the cluster goes on doing: {}; their events say what holds them",
            down.going.join(", ")
        );
    }
    if !volumes {
        println!("its claims, and so its data, are kept; `berth down --volumes` deletes them too");
    }
    Ok(Exit::Success)
}

/// What is left of the environment on the Docker Engine: containers a killed
/// berth left, the network, and with `volumes` the data stores' volumes.
fn remove_from_engine(
    project: &Project,
    ecosystem: &Ecosystem,
    volumes: bool,
) -> Result<(), Problems> {
    let failed = |message: String| Problems::one(Problem::new(message));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let containers = hosted::containers(project.dir(), ecosystem)
            .await
            .map_err(failed)?;
        let removed = containers.remove_containers().await.map_err(failed)?;
        if removed > 0 {
            println!(
                "removed {removed} container{} left behind",
                if removed == 1 { "" } else { "s" }
            );
        }
        containers.remove_networks().await.map_err(failed)?;
        if volumes {
            for volume in containers.remove_volumes().await.map_err(failed)? {
                println!("deleted volume {volume}");
            }
        }
        Ok(())
    })
}

fn delete_data(session: &Session) -> Result<(), Problems> {
    let data = session.dir.join("data");
    if data.exists() {
        std::fs::remove_dir_all(&data).map_err(|e| {
            Problems::one(Problem::new(format!(
                "cannot delete {}: {e}",
                data.display()
            )))
        })?;
        println!("deleted {}", data.display());
    }
    Ok(())
}

fn wait_until_gone(session: &Session, pid: u32) -> Result<(), Problems> {
    // Stopping waits out each service's grace period in dependency order.
    let deadline = Instant::now() + Duration::from_secs(300);
    while matches!(session.found(), Found::Running(running) if running == pid) {
        if Instant::now() > deadline {
            return Err(Problems::one(Problem::new(format!(
                "berth (pid {pid}) is still stopping"
            ))));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
