//! The cluster an environment deploys to, reached as kubectl would reach it:
//! the kubeconfig files of `KUBECONFIG` (merged) or `~/.kube/config`, and the
//! context named by `--context`, else by the environment's `context:`, else the
//! kubeconfig's current one.

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// A client of one cluster, and the name of the context it came from.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub context: String,
}

/// Connects to the cluster of `context` (`None`: the kubeconfig's current
/// context). Nothing is sent yet; the first request finds out whether it answers.
pub async fn connect(context: Option<&str>) -> Result<Cluster, String> {
    let kubeconfig = Kubeconfig::read().map_err(|e| {
        format!(
            "cannot read a kubeconfig ({e}); set KUBECONFIG or write ~/.kube/config, as for kubectl"
        )
    })?;
    let known: Vec<String> = kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
    let name = match context {
        Some(name) => name.to_owned(),
        None => kubeconfig
            .current_context
            .clone()
            .ok_or("the kubeconfig names no current context; give one with `--context` or the environment's `context:`")?,
    };
    if !known.contains(&name) {
        return Err(format!(
            "the kubeconfig has no context `{name}`; it has: {}",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ));
    }
    let options = KubeConfigOptions {
        context: Some(name.clone()),
        ..KubeConfigOptions::default()
    };
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| format!("context `{name}`: {e}"))?;
    // Named in the API server's audit log as kubectl and Helm are.
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(concat!("berth/", env!("CARGO_PKG_VERSION"))),
    ));
    let client = Client::try_from(config).map_err(|e| format!("context `{name}`: {e}"))?;
    Ok(Cluster {
        client,
        context: name,
    })
}
