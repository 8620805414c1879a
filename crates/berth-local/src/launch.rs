//! What to run for a service on this machine: its command line, environment and
//! working directory, with references resolved and secrets read.

use std::path::{Path, PathBuf};

use berth_core::Ecosystem;
use berth_core::address;
use berth_core::model::{DataStore, Kind, LocalPlace, Port, SecretRef, Service};
use indexmap::IndexMap;

use crate::ports::Ports;

/// Everything needed to start one instance.
#[derive(Clone, Debug)]
pub struct Launch {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub dir: PathBuf,
    /// Run once before the first start, when the data directory is new (initdb).
    pub prepare: Option<Vec<String>>,
    /// Secrets this runtime cannot read (Kubernetes Secrets), left unset.
    pub unset_secrets: Vec<String>,
    /// The user to run as, when berth runs as root and the program refuses root.
    pub user: Option<(u32, u32)>,
}

/// Why a service cannot be launched here, and what to do.
#[derive(Clone, Debug)]
pub struct LaunchError {
    pub message: String,
    pub help: String,
}

pub struct Context<'a> {
    pub ecosystem: &'a Ecosystem,
    /// Where services are for their peers: the ports of their listeners.
    pub ports: &'a Ports,
    /// The ports this instance itself listens on.
    pub instance_ports: &'a IndexMap<String, Port>,
    /// The directory of berth.yaml.
    pub project: &'a Path,
    /// `.berth/data/`, where data kinds keep their files.
    pub data: &'a Path,
}

/// What to run for instance `instance` of service `name`.
pub fn launch(context: &Context, name: &str, instance: usize) -> Result<Launch, LaunchError> {
    let service = &context.ecosystem.services[name];
    let built_in = service
        .kind
        .data_store()
        .filter(|_| service.local.is_none());
    let (argv, prepare, mut env) = match built_in {
        Some(store) => data_store(context, name, store)?,
        None => (command(name, service)?, None, Vec::new()),
    };
    let user = match built_in.and_then(|store| Some((store.kind, store.refuses_root?))) {
        Some((kind, user)) => unprivileged(&context.data.join(name), user, kind)?,
        None => None,
    };
    let argv = argv.into_iter().map(own_binary).collect();
    for file in &service.env_file {
        env.extend(read_env_file(&context.project.join(file))?);
    }
    env.extend(service.env.iter().map(|(key, value)| {
        (
            key.clone(),
            address::resolve(value, context.ecosystem, context.ports),
        )
    }));
    let mut unset_secrets = Vec::new();
    for (key, secret) in &service.secrets {
        match read_secret(context.project, key, secret)? {
            Some(value) => env.push((key.clone(), value)),
            None => unset_secrets.push(key.clone()),
        }
    }
    if let Some(port) = context.instance_ports.values().next() {
        env.push(("PORT".to_owned(), port.to_string()));
    }
    for (port_name, port) in context.instance_ports {
        env.push((format!("PORT_{}", env_name(port_name)), port.to_string()));
    }
    env.push(("BERTH_SERVICE".to_owned(), name.to_owned()));
    env.push(("BERTH_INSTANCE".to_owned(), instance.to_string()));
    let workdir = service.local.as_ref().and_then(|l| l.workdir.as_deref());
    Ok(Launch {
        argv,
        env,
        dir: workdir.map_or_else(
            || context.project.to_path_buf(),
            |w| context.project.join(w),
        ),
        prepare,
        unset_secrets,
        user,
    })
}

fn command(name: &str, service: &Service) -> Result<Vec<String>, LaunchError> {
    if let Some(local) = &service.local {
        return Ok(local.run.argv());
    }
    if service.entrypoint.is_some() || service.command.is_some() {
        return Ok(service
            .entrypoint
            .iter()
            .chain(&service.command)
            .flat_map(|c| c.argv())
            .collect());
    }
    Err(LaunchError {
        message: format!("`{name}` has no command to run locally"),
        help: "give it `local: { run: COMMAND }`, or list it under this environment's `external:` if it runs elsewhere".to_owned(),
    })
}

/// A folder with `*` for one part, as the folders it names: the highest
/// (newest version) first.
fn expand(folder: &str) -> Vec<PathBuf> {
    let Some((before, after)) = folder.split_once("/*/") else {
        return vec![PathBuf::from(folder)];
    };
    let Ok(entries) = std::fs::read_dir(before) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path().join(after))
        .collect();
    dirs.sort();
    dirs.reverse();
    dirs
}

/// `berth` as a program means this very binary, so that examples can run the
/// stand-in workload (`berth workload`) without berth on PATH.
fn own_binary(arg: String) -> String {
    if arg == "berth"
        && let Ok(exe) = std::env::current_exe()
    {
        return exe.display().to_string();
    }
    arg
}

/// `KEY=VALUE` lines, as docker compose reads them. An error names the line,
/// never its text: the text is a value, and values are secrets.
pub fn read_env_file(path: &Path) -> Result<Vec<(String, String)>, LaunchError> {
    let unreadable = |what: String| LaunchError {
        message: format!("cannot read the env file {}: {what}", path.display()),
        help: "fix the file or the `env_file` entry that names it".to_owned(),
    };
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
    dotenvy::from_read_iter(text.as_bytes())
        .map(|entry| {
            entry.map_err(|e| match e {
                dotenvy::Error::LineParse(line, _) => {
                    let number = text
                        .find(line.as_str())
                        .map_or(0, |at| text[..at].matches('\n').count() + 1);
                    unreadable(format!("line {number} is not `KEY=VALUE`"))
                }
                dotenvy::Error::Io(e) => unreadable(e.to_string()),
                _ => unreadable("it is not a list of `KEY=VALUE` lines".to_owned()),
            })
        })
        .collect()
}

fn env_name(port: &str) -> String {
    port.to_ascii_uppercase().replace('-', "_")
}

pub fn read_secret(
    project: &Path,
    key: &str,
    secret: &SecretRef,
) -> Result<Option<String>, LaunchError> {
    match secret {
        SecretRef::Env(var) => std::env::var(var).map(Some).map_err(|_| LaunchError {
            message: format!(
                "secret `{key}` comes from the environment variable `{var}`, which is not set"
            ),
            help: format!("export {var}=... in the shell that runs berth"),
        }),
        SecretRef::File(path) => std::fs::read_to_string(project.join(path))
            .map(|value| Some(value.trim_end_matches('\n').to_owned()))
            .map_err(|e| LaunchError {
                message: format!(
                    "secret `{key}` comes from the file {path}, which cannot be read: {e}"
                ),
                help:
                    "create the file, or point the secret elsewhere in this environment's overlay"
                        .to_owned(),
            }),
        SecretRef::Kubernetes(_) => Ok(None),
    }
}

/// PostgreSQL and RabbitMQ will not run as root: when berth does, the server
/// runs as the `user` that Debian's packages create, owning its data directory.
pub(crate) fn unprivileged(
    data: &Path,
    user: &str,
    server: Kind,
) -> Result<Option<(u32, u32)>, LaunchError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let account = nix::unistd::User::from_name(user)
        .ok()
        .flatten()
        .ok_or_else(|| LaunchError {
            message: format!(
                "{server} refuses to run as root, and there is no `{user}` user to run it as"
            ),
            help: format!(
                "run berth as an ordinary user, or create the user with `useradd {user}`"
            ),
        })?;
    nix::unistd::chown(data, Some(account.uid), Some(account.gid)).map_err(|e| LaunchError {
        message: format!("cannot give {} to the {user} user: {e}", data.display()),
        help: "check the permissions of .berth/ beside berth.yaml".to_owned(),
    })?;
    Ok(Some((account.uid.as_raw(), account.gid.as_raw())))
}

type Prepared = (Vec<String>, Option<Vec<String>>, Vec<(String, String)>);

/// The built-in way to run each data kind from its binary, keeping its files under
/// `.berth/data/<service>`.
fn data_store(context: &Context, name: &str, store: &DataStore) -> Result<Prepared, LaunchError> {
    let dir = context.data.join(name);
    let dir_text = dir.display().to_string();
    let port = context
        .instance_ports
        .values()
        .next()
        .expect("data kinds have ports")
        .0;
    let ports: Vec<(&str, u16)> = context
        .instance_ports
        .iter()
        .map(|(name, port)| (name.as_str(), port.0))
        .collect();
    let run = (store.local)(&LocalPlace {
        name,
        dir: &dir_text,
        port,
        ports: &ports,
    });
    let binary = |program: &str| find_binary(program, store, name);
    let mut argv = vec![binary(run.program)?];
    argv.extend(run.args);
    let prepare = match run.init {
        Some((program, args, done)) if !dir.join(done).exists() => {
            let mut init = vec![binary(program)?];
            init.extend(args);
            Some(init)
        }
        _ => None,
    };
    std::fs::create_dir_all(&dir).map_err(|e| LaunchError {
        message: format!("cannot create {}: {e}", dir.display()),
        help: "check the permissions of .berth/ beside berth.yaml".to_owned(),
    })?;
    Ok((argv, prepare, run.env))
}

/// A data kind's binary in its own folders, else on PATH.
pub(crate) fn find_binary(
    program: &str,
    store: &DataStore,
    service: &str,
) -> Result<String, LaunchError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut candidates: Vec<PathBuf> = store
        .binary_folders
        .iter()
        .flat_map(|folder| expand(folder))
        .map(|dir| dir.join(program))
        .collect();
    candidates.extend(std::env::split_paths(&path).map(|dir| dir.join(program)));
    candidates
        .into_iter()
        .find(|candidate| candidate.is_file())
        .map(|found| found.display().to_string())
        .ok_or_else(|| LaunchError {
            message: format!("`{program}` is not installed"),
            help: format!(
                "{}, or list `{service}` under this environment's `external:` with the address of one that runs elsewhere",
                store.install
            ),
        })
}
