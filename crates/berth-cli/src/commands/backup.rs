//! `berth backup [SERVICE...]`, `berth backup list`, `berth backup drill` and
//! `berth restore SERVICE`: the data stores of an environment, by their own
//! tools run on this machine — against the store itself on the local and
//! compose runtimes, through a port-forward on a cluster — kept in
//! `.berth/backups/` or the environment's object store.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_core::model::Runtime;
use berth_core::{Ecosystem, Problem, Problems, Project};
use berth_docker::Owner;
use berth_kube::tunnel::{Reach, Tunnel};
use berth_local::backup::{self, BackupError, Shelves, Store};
use berth_local::{InstanceReport, Reply, Request, StateDir};

use super::session::{Found, Session};
use super::{Exit, load};
use crate::cli::{BackupAction, Format, Global};
use crate::output;

pub fn run(
    global: &Global,
    action: Option<&BackupAction>,
    services: &[String],
) -> Result<Exit, Problems> {
    let project = load(global)?;
    let here = Here::of(&project, global)?;
    match action {
        None => take(&here, services),
        Some(BackupAction::List) => list(&here, global.output),
        Some(BackupAction::Drill { services }) => drill(&here, services),
    }
}

pub fn restore(
    global: &Global,
    service: &str,
    from: Option<&str>,
    yes: bool,
) -> Result<Exit, Problems> {
    let project = load(global)?;
    let here = Here::of(&project, global)?;
    let mut stores = here.stores(std::slice::from_ref(&service.to_owned()))?;
    let store = &mut stores[0];
    if !yes && !confirmed(store)? {
        println!("nothing restored");
        return Ok(Exit::Success);
    }
    let _tunnel = here.reach(store).map_err(unreached)?;
    let store = &stores[0];
    let beside = |folder: &Path| seed_beside(&here, store, folder);
    let seeds = match here.ecosystem.environment.runtime {
        Runtime::Compose => backup::Seeds::Beside(&beside),
        Runtime::Kubernetes => backup::Seeds::Pushing,
        Runtime::Local => backup::Seeds::Here,
    };
    let (manifest, took) = backup::restore(&here.state, store, from, &seeds).map_err(problem)?;
    println!(
        "restored `{}` from backup {} ({}) in {} — it holds what it held then ({} counted)",
        store.service,
        manifest.id,
        manifest.taken_at,
        seconds(took),
        counted(manifest.census.len())
    );
    Ok(Exit::Success)
}

/// A replica restore's seed for a store in a container: a container of the
/// store's image on the environment's network, loading the backup's folder.
fn seed_beside(here: &Here, store: &Store, folder: &Path) -> Result<backup::Seed, BackupError> {
    let cannot = |message: String| {
        BackupError::new(
            format!("restoring `{}`: {message}", store.service),
            "see that the Docker Engine answers (`docker version`) and the environment runs (`berth status`)",
        )
    };
    let berth_core::model::Restore::Replica { in_container, .. } = store.kind.restore else {
        unreachable!("only a replica restore has a seed");
    };
    let service = &here.ecosystem.services[store.service];
    let image = service
        .image
        .clone()
        .ok_or_else(|| cannot("it has no image".to_owned()))?;
    let owner = Owner::new(here.project.dir(), &here.ecosystem.name, store.environment);
    let port = store.kind.ports[0].1;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| cannot(e.to_string()))?;
    let (engine, name) = runtime
        .block_on(async {
            let engine = berth_docker::connect().await?;
            let command = in_container(berth_docker::seed::BACKUP_DIR, port);
            let name =
                berth_docker::seed::start(&engine, &owner, store.service, &image, folder, command)
                    .await?;
            Ok::<_, String>((engine, name))
        })
        .map_err(cannot)?;
    Ok(backup::Seed {
        host: name.clone(),
        port,
        end: Box::new(move || runtime.block_on(berth_docker::seed::remove(&engine, &name))),
    })
}

/// The environment whose stores are meant, what runs of it, and where its
/// backups are kept.
struct Here<'p> {
    project: &'p Project,
    global: &'p Global,
    ecosystem: &'p Ecosystem,
    running: Vec<InstanceReport>,
    /// `.berth/` beside berth.yaml.
    state: PathBuf,
    shelves: Shelves,
}

impl<'p> Here<'p> {
    /// The environment asked for, else the one running here, else the first.
    fn of(project: &'p Project, global: &'p Global) -> Result<Here<'p>, Problems> {
        let (ecosystem, running) = environment(project, global)?;
        let state = StateDir::of(project.dir()).0;
        let shelves = Shelves::open(
            &state,
            &ecosystem.environment_name,
            ecosystem.environment.backups.as_ref(),
        );
        Ok(Here {
            project,
            global,
            ecosystem,
            running,
            state,
            shelves,
        })
    }

    fn stores(&self, names: &[String]) -> Result<Vec<Store<'p>>, Problems> {
        stores(self, names)
    }

    /// For a store on a cluster, a port-forward to it, which the store's port
    /// and password then name, held while it is used; none on this machine,
    /// where the store answers itself.
    fn reach(&self, store: &mut Store) -> Result<Option<Tunnel>, berth_kube::tunnel::Unreached> {
        if self.ecosystem.environment.runtime != Runtime::Kubernetes {
            return Ok(None);
        }
        let spec = &self.ecosystem.services[store.service];
        let password = store.kind.password.and_then(|(key, _)| {
            let secret = spec.secrets.get(key)?;
            Some(berth_render::secret_key_of(store.service, key, secret))
        });
        let tunnel = Tunnel::open(Reach {
            context: super::cluster::context(self.global, self.ecosystem),
            ecosystem: self.ecosystem.clone(),
            namespace: berth_render::namespace_of(self.ecosystem, spec),
            service: store.service.to_owned(),
            remote: store.port,
            password,
        })?;
        store.port = tunnel.port;
        if let (Some((_, variable)), Some(password)) = (store.kind.password, &tunnel.password) {
            store
                .tools_env
                .push((variable.to_owned(), password.clone()));
        }
        Ok(Some(tunnel))
    }
}

/// A store on the cluster that could not be reached, and what to do.
fn unreached(e: berth_kube::tunnel::Unreached) -> Problems {
    match e.help {
        Some(help) => Problems::one(Problem::new(e.message).help(help)),
        None => super::cluster::problem(e.message),
    }
}

/// The environment asked for, else the one running here, else the first;
/// and what runs of it.
fn environment<'p>(
    project: &'p Project,
    global: &Global,
) -> Result<(&'p Ecosystem, Vec<InstanceReport>), Problems> {
    let session = Session::in_dir(project.dir());
    let name = global.environment.clone().or_else(|| session.environment());
    let ecosystem = project.ecosystem(name.as_deref())?;
    let running = match session.found() {
        Found::Running(_)
            if session.environment().as_deref() == Some(&ecosystem.environment_name) =>
        {
            match session.request(&Request::Status)? {
                Reply::Status { instances, .. } => instances,
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    Ok((ecosystem, running))
}

/// The data stores named, or all of the environment's; each where it answers.
fn stores<'e>(here: &Here<'e>, names: &[String]) -> Result<Vec<Store<'e>>, Problems> {
    let Here {
        project,
        ecosystem,
        running,
        ..
    } = here;
    let all: Vec<&String> = ecosystem
        .services
        .iter()
        .filter(|(name, service)| service.kind.is_data() && !ecosystem.is_external(name))
        .map(|(name, _)| name)
        .collect();
    let chosen: Vec<&String> = if names.is_empty() {
        all.clone()
    } else {
        names.iter().collect()
    };
    let mut problems = Vec::new();
    let mut stores = Vec::new();
    for name in chosen {
        let Some((name, service)) = ecosystem.services.get_key_value(name.as_str()) else {
            if matches!(name.as_str(), "drill" | "list") {
                // Options before it make clap take it for a service.
                problems.push(
                    Problem::new(format!("there is no service `{name}`"))
                        .help(format!("for `berth backup {name}`, give options after it: `berth backup {name} -e ENV`")),
                );
                continue;
            }
            let known = all.iter().map(|n| n.as_str());
            let help = berth_core::problem::suggestion(name, known.clone(), || {
                format!(
                    "its data stores are {}",
                    berth_core::problem::quoted_list(known)
                )
            });
            problems.push(Problem::new(format!("there is no service `{name}`")).help(help));
            continue;
        };
        let Some(kind) = service.kind.data_store().filter(|_| all.contains(&name)) else {
            problems.push(
                Problem::new(format!("`{name}` is no data store of this environment")).help(
                    "back up services of kind postgres, mongodb, redis or rabbitmq that berth runs",
                ),
            );
            continue;
        };
        let Some(declared) = service.ports.get(kind.tools_port) else {
            problems.push(
                Problem::new(format!(
                    "`{name}` has no port `{}`, which its backup tools talk to",
                    kind.tools_port
                ))
                .help(format!(
                    "add it to its ports: `{}: {}`",
                    kind.tools_port,
                    kind.ports
                        .iter()
                        .find(|(n, _)| *n == kind.tools_port)
                        .map_or(0, |(_, p)| *p)
                )),
            );
            continue;
        };
        // The runtime reports where the main port answers; others are as declared.
        let main = service
            .main_port()
            .is_some_and(|(n, _)| n == kind.tools_port);
        let port = running
            .iter()
            .find(|i| i.service == *name)
            .and_then(|i| i.port)
            .filter(|_| main)
            .unwrap_or(declared.0);
        // On a cluster the password is the one in the store's Secret, read as it is reached.
        let local = ecosystem.environment.runtime != Runtime::Kubernetes;
        let tools_env = match credentials(project.dir(), service, kind, local) {
            Ok(env) => env,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let shelf = match here.shelves.of(name) {
            Ok(shelf) => shelf,
            Err(e) => {
                problems.push(Problem::new(e.message).help(e.help));
                continue;
            }
        };
        stores.push(Store {
            environment: &ecosystem.environment_name,
            service: name,
            kind,
            port,
            tools_env,
            shelf,
        });
    }
    if problems.is_empty() {
        Ok(stores)
    } else {
        Err(Problems(problems))
    }
}

/// The user and password the store's tools log in with: the user as the
/// service's environment names it, the password (with `password`) from the
/// secret it is given here.
fn credentials(
    project_dir: &Path,
    service: &berth_core::model::Service,
    kind: &berth_core::model::DataStore,
    password: bool,
) -> Result<Vec<(String, String)>, Problem> {
    let mut env: Vec<(String, String)> = kind
        .tools_user(service)
        .map(|(variable, user)| (variable.to_owned(), user))
        .into_iter()
        .collect();
    let Some((key, variable)) = kind.password.filter(|_| password) else {
        return Ok(env);
    };
    let Some(secret) = service.secrets.get(key) else {
        return Ok(env);
    };
    match berth_local::read_secret(project_dir, key, secret) {
        Ok(Some(value)) => env.push((variable.to_owned(), value)),
        Ok(None) => {}
        Err(e) => return Err(Problem::new(e.message).help(e.help)),
    }
    Ok(env)
}

fn take(here: &Here, services: &[String]) -> Result<Exit, Problems> {
    // With no names, every store that runs: one not started is no failure.
    let mut stores = Vec::new();
    let mut stopped = Vec::new();
    for mut store in here.stores(services)? {
        match here.reach(&mut store) {
            Err(e) if !(e.not_running && services.is_empty()) => return Err(unreached(e)),
            Err(_) => stopped.push(store),
            Ok(None) if services.is_empty() && store.answers().is_err() => stopped.push(store),
            Ok(tunnel) => stores.push((store, tunnel)),
        }
    }
    if stores.is_empty() && !stopped.is_empty() {
        let name = &here.ecosystem.environment_name;
        let start = match here.ecosystem.environment.runtime {
            Runtime::Kubernetes => format!("deploy them first: `berth deploy -e {name}`"),
            _ => format!("start them first: `berth up -e {name} -d`"),
        };
        return Err(Problems::one(
            Problem::new(format!("no data store of environment `{name}` is running")).help(start),
        ));
    }
    for store in &stopped {
        eprintln!("note: `{}` is not running: left out", store.service);
    }
    for (store, tunnel) in stores {
        let spec = &here.ecosystem.services[store.service];
        let retention = backup::Retention::of(spec.backup.as_ref());
        let revision = match &tunnel {
            Some(tunnel) => tunnel.revision.as_deref(),
            None => here
                .running
                .iter()
                .find(|i| i.service == store.service)
                .map(|i| i.revision.as_str()),
        }
        .filter(|r| !r.is_empty());
        eprintln!("backing up `{}` ({})…", store.service, store.kind.kind);
        let started = std::time::Instant::now();
        let shown = std::io::stderr().is_terminal();
        let progress = |bytes: u64| {
            if shown {
                let rate = bytes as f64 / started.elapsed().as_secs_f64().max(0.001);
                eprint!("\r\x1b[K  {} written, {}/s", size(bytes), size(rate as u64));
            }
        };
        let taken = backup::take(&here.state, &store, revision, retention, &progress);
        if shown {
            eprint!("\r\x1b[K");
        }
        let manifest = taken.map_err(problem)?;
        println!(
            "backed up `{}`: {} — {} file{}, {}, {} counted; in {}",
            store.service,
            manifest.id,
            manifest.files.len(),
            if manifest.files.len() == 1 { "" } else { "s" },
            size(manifest.bytes()),
            counted(manifest.census.len()),
            store.shelf.place(&manifest.id, here.project.dir())
        );
    }
    Ok(Exit::Success)
}

fn list(here: &Here, format: Format) -> Result<Exit, Problems> {
    let mut rows = Vec::new();
    let mut json = Vec::new();
    for store in here.stores(&[])? {
        let backups = store.shelf.backups().map_err(problem)?;
        let drills = store.shelf.drills().map_err(problem)?;
        let last = drills.last();
        json.push(serde_json::json!({
            "service": store.service,
            "kind": store.kind.kind.to_string(),
            "backups": backups.iter().map(|m| serde_json::json!({
                "id": m.id, "taken_at": m.taken_at, "bytes": m.bytes(), "files": m.files.len(), "revision": m.revision,
            })).collect::<Vec<_>>(),
            "last_drill": last,
        }));
        let drill = last.map_or("never".to_owned(), |d| {
            format!(
                "{} (RTO {}, RPO {})",
                d.backup,
                seconds(Duration::from_secs_f64(d.rto_seconds)),
                seconds(Duration::from_secs_f64(d.rpo_seconds))
            )
        });
        if backups.is_empty() {
            rows.push(format!(
                "{:<16} {:<18} {:<22} {:>10}  {drill}",
                store.service, "none", "", ""
            ));
        }
        for m in backups.iter().rev() {
            rows.push(format!(
                "{:<16} {:<18} {:<22} {:>10}  {drill}",
                store.service,
                m.id,
                m.taken_at,
                size(m.bytes())
            ));
        }
    }
    match format {
        Format::Json => output::json(&serde_json::Value::Array(json)),
        Format::Text => {
            println!(
                "{:<16} {:<18} {:<22} {:>10}  LAST DRILL",
                "STORE", "BACKUP", "TAKEN", "SIZE"
            );
            for row in rows {
                println!("{row}");
            }
        }
    }
    Ok(Exit::Success)
}

fn drill(here: &Here, services: &[String]) -> Result<Exit, Problems> {
    let mut missed = false;
    for store in here.stores(services)? {
        // With no names, every store that has a backup to drill.
        if services.is_empty() && store.shelf.backups().map_err(problem)?.is_empty() {
            eprintln!("note: `{}` has no backup to drill: left out", store.service);
            continue;
        }
        let drill = backup::drill(&here.state, &store).map_err(problem)?;
        let rto = Duration::from_secs_f64(drill.rto_seconds);
        let rpo = Duration::from_secs_f64(drill.rpo_seconds);
        let targets = here.ecosystem.services[store.service].backup.as_ref();
        let mut against =
            |achieved: Duration, target: Option<berth_core::model::Duration>| match target {
                Some(target) if achieved <= target.0 => format!(" (target {target}: met)"),
                Some(target) => {
                    missed = true;
                    format!(" (target {target}: MISSED)")
                }
                None => String::new(),
            };
        let rto_note = against(rto, targets.and_then(|b| b.rto));
        let rpo_note = against(rpo, targets.and_then(|b| b.rpo));
        println!(
            "drilled `{}` with backup {}: restored into a store of its own and checked; RTO {}{rto_note}, RPO {}{rpo_note}",
            store.service,
            drill.backup,
            seconds(rto),
            seconds(rpo),
        );
    }
    Ok(if missed { Exit::Failed } else { Exit::Success })
}

fn confirmed(store: &Store) -> Result<bool, Problems> {
    if !std::io::stdin().is_terminal() {
        return Err(Problems::one(
            Problem::new(format!(
                "restoring replaces what `{}` holds now",
                store.service
            ))
            .help("say so with `--yes`"),
        ));
    }
    eprint!(
        "restore replaces what `{}` holds now; go on? [y/N] ",
        store.service
    );
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Problems::one(Problem::new(e.to_string())))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn problem(e: BackupError) -> Problems {
    Problems::one(Problem::new(e.message).help(e.help))
}

fn seconds(d: Duration) -> String {
    if d.as_secs() >= 120 {
        humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

fn counted(things: usize) -> String {
    format!("{things} thing{}", if things == 1 { "" } else { "s" })
}
