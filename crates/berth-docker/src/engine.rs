//! The connection to the Docker Engine, and its errors as berth says them.

use bollard::Docker;

/// A connection to the Docker Engine, its API version agreed with the Engine.
pub type Engine = Docker;

/// Connects as the docker CLI does (`DOCKER_HOST`, or the local socket) and
/// agrees on the API version, so that an older Engine is spoken to in its own.
pub async fn connect() -> Result<Engine, String> {
    let unreachable = |e: bollard::errors::Error| {
        let place = std::env::var("DOCKER_HOST")
            .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned());
        format!(
            "cannot reach the Docker Engine at {place}: {e}\n  help: start Docker (`systemctl start docker`), or point DOCKER_HOST at a running Engine"
        )
    };
    let docker = Docker::connect_with_local_defaults().map_err(unreachable)?;
    let docker = docker.negotiate_version().await.map_err(unreachable)?;
    docker.ping().await.map_err(unreachable)?;
    Ok(docker)
}

/// What the Engine said, without bollard's wording around it.
pub fn said(error: &bollard::errors::Error) -> String {
    match error {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Whether the Engine answered that the thing does not exist.
pub fn is_missing(error: &bollard::errors::Error) -> bool {
    matches!(
        error,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}
