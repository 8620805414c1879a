//! `berth port-forward SERVICE [LOCAL:]PORT`: a port on this machine to a
//! ready pod of a service on a Kubernetes environment, until Ctrl-C. Locally
//! there is nothing to forward: every service answers on 127.0.0.1 already.

use berth_core::model::Service;
use berth_core::{Ecosystem, Problems};

use super::Exit;
use super::cluster::{self, problem};
use crate::cli::Global;

pub fn run(global: &Global, service: &str, ports: Option<&str>) -> Result<Exit, Problems> {
    let project = super::load(global)?;
    let ecosystem = project.ecosystem(global.environment.as_deref())?;
    let Some(spec) = ecosystem.services.get(service) else {
        return Err(problem(format!(
            "`{service}` is no service of `{}`",
            ecosystem.name
        )));
    };
    let (local, remote) = ports_of(spec, service, ports)?;
    if !cluster::on_cluster(ecosystem) {
        return Err(Problems::one(
            berth_core::Problem::new(format!(
                "environment `{}` runs here: there is nothing to forward",
                ecosystem.environment_name
            ))
            .help(format!(
                "`{service}` answers on 127.0.0.1 itself (`berth status` shows its port); port-forward is for `runtime: kubernetes` environments"
            )),
        ));
    }
    forward(global, ecosystem, spec, service, local, remote)
}

fn forward(
    global: &Global,
    ecosystem: &Ecosystem,
    spec: &Service,
    service: &str,
    local: u16,
    remote: u16,
) -> Result<Exit, Problems> {
    let namespace = berth_render::namespace_of(ecosystem, spec);
    cluster::runtime()?.block_on(async {
        let environment = cluster::environment(global, ecosystem).await?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", local))
            .await
            .map_err(|e| {
                Problems::one(
                    berth_core::Problem::new(format!("cannot listen on 127.0.0.1:{local}: {e}"))
                        .help(format!(
                            "forward from another port: `berth port-forward {service} OTHER:{remote}`, or `:{remote}` for a free one"
                        )),
                )
            })?;
        let to = berth_kube::port_forward::Forward {
            namespace: &namespace,
            service,
            track: None,
            remote,
        };
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        berth_kube::port_forward::forward(&environment, &to, listener, &|line| println!("{line}"), stop)
            .await
            .map_err(problem)?;
        Ok(Exit::Success)
    })
}

/// `[LOCAL:]PORT` as (local, remote); PORT a number or one of the service's
/// port names, by default its main port; LOCAL the same as PORT by default,
/// 0 (a free one) when empty.
fn ports_of(spec: &Service, service: &str, ports: Option<&str>) -> Result<(u16, u16), Problems> {
    let (local, port) = match ports {
        None => (None, None),
        Some(text) => match text.split_once(':') {
            Some((local, port)) => (Some(local), Some(port)),
            None => (None, Some(text)),
        },
    };
    let names = || {
        spec.ports
            .iter()
            .map(|(name, port)| format!("{name} ({port})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let remote = match port {
        None => spec
            .main_port()
            .map(|(_, port)| port.0)
            .ok_or_else(|| problem(format!("`{service}` has no port to forward to")))?,
        Some(port) => match port.parse::<u16>() {
            Ok(number) if number > 0 => number,
            _ => spec.ports.get(port).map(|p| p.0).ok_or_else(|| {
                problem(format!(
                    "`{port}` is no port of `{service}`; its ports are {}",
                    names()
                ))
            })?,
        },
    };
    let local = match local {
        None => remote,
        Some("") => 0,
        Some(local) => local.parse().map_err(|_| {
            problem(format!(
                "`{local}` is not a local port: write LOCAL:PORT, such as 8080:{remote}"
            ))
        })?,
    };
    Ok((local, remote))
}
