//! `berth ui`, and the dashboard `berth up --ui` serves beside its run.

use std::net::SocketAddr;

use berth_core::model::Runtime;
use berth_core::plan::{self, Plan};
use berth_core::{Ecosystem, Problem, Problems, Project};
use berth_dashboard::{Access, Token};

use super::session::Session;
use super::{Exit, load};
use crate::cli::{Global, UiArgs};

/// The port tried first, and how many after it when it is taken.
const PORT: u16 = 7420;
const PORTS_TRIED: u16 = 10;

pub fn run(global: &Global, args: &UiArgs) -> Result<Exit, Problems> {
    let project = load(global)?;
    let session = Session::in_dir(project.dir());
    let name = global.environment.clone().or_else(|| session.environment());
    let ecosystem = project.ecosystem(name.as_deref())?;
    if ecosystem.environment.runtime == Runtime::Kubernetes {
        let environment = &ecosystem.environment_name;
        return Err(Problems::one(
            Problem::new(format!(
                "environment `{environment}` runs on kubernetes, and the dashboard shows the environments a berth runs here"
            ))
            .help(format!(
                "`berth status -e {environment}`, `berth history -e {environment}` and `berth dora -e {environment}` read its cluster"
            )),
        ));
    }
    let plan = plan::plan(ecosystem, &plan::select(ecosystem, &[])?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| problem(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let dashboard = open(&project, ecosystem, plan, args).await?;
        tokio::select! {
            served = dashboard => served.map_err(|e| problem(format!("the dashboard stopped: {e}")))?,
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(Exit::Success)
    })
}

fn problem(message: String) -> Problems {
    Problems::one(Problem::new(message))
}

/// Binds the dashboard and says where it is; the future serves it.
pub async fn open(
    project: &Project,
    ecosystem: &Ecosystem,
    plan: Plan,
    args: &UiArgs,
) -> Result<impl Future<Output = std::io::Result<()>> + use<>, Problems> {
    let beyond_loopback = !args.bind.is_loopback();
    let token = match &args.token_file {
        Some(path) => Token::from_file(path).map_err(problem)?,
        None if beyond_loopback => {
            return Err(Problems::one(
                Problem::new(format!(
                    "the dashboard would listen beyond loopback, on {}",
                    args.bind
                ))
                .help("give it a token: `--token-file FILE`; every request will need it"),
            ));
        }
        None => Token::generate().map_err(|e| problem(format!("cannot make a token: {e}")))?,
    };
    let listener = bind(args).await?;
    let address = listener
        .local_addr()
        .map_err(|e| problem(format!("the dashboard has no address: {e}")))?;
    let state_dir = Session::in_dir(project.dir()).dir;
    let dashboard = berth_dashboard::Project::new(ecosystem.clone(), plan, state_dir);
    let router = berth_dashboard::router(dashboard, Access::new(token.clone(), address));
    say_where(ecosystem, address, &token, beyond_loopback);
    Ok(berth_dashboard::serve(listener, router))
}

async fn bind(args: &UiArgs) -> Result<tokio::net::TcpListener, Problems> {
    let ports: Vec<u16> = match args.port {
        Some(port) => vec![port],
        None => (PORT..PORT + PORTS_TRIED).collect(),
    };
    let mut last = None;
    for port in &ports {
        match tokio::net::TcpListener::bind((args.bind, *port)).await {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    let tried = match ports.as_slice() {
        [one] => format!("port {one}"),
        _ => format!("ports {PORT}–{}", PORT + PORTS_TRIED - 1),
    };
    Err(Problems::one(
        Problem::new(format!(
            "the dashboard cannot listen on {} {tried}: {}",
            args.bind,
            last.map_or_else(String::new, |e| e.to_string())
        ))
        .help("choose another with `--port PORT` (`--ui-port` with `berth up --ui`)"),
    ))
}

fn say_where(ecosystem: &Ecosystem, address: SocketAddr, token: &Token, beyond_loopback: bool) {
    let url = format!("http://{address}/");
    println!(
        "berth: dashboard of {} ({}) on {url}",
        ecosystem.name, ecosystem.environment_name
    );
    if beyond_loopback {
        println!(
            "berth: every request needs the token: open {url}?token={}",
            token.as_str()
        );
    } else {
        println!(
            "berth: actions need the token: open {url}#token={} (or send `X-Berth-Token`)",
            token.as_str()
        );
    }
}
