//! Env files read into the services that name them, for the Kubernetes
//! objects: a pod cannot read a file of this machine. What a name marks as a
//! secret becomes a secret reference, never a value in a ConfigMap.

use std::sync::Arc;

use berth_core::model::{SecretRef, Template};
use berth_core::{Ecosystem, Problem, Problems, Project};

pub fn inlined(project: &Project, ecosystem: &Ecosystem) -> Result<Ecosystem, Problems> {
    let mut ecosystem = ecosystem.clone();
    for (name, service) in ecosystem.services.iter_mut() {
        if service.env_file.is_empty() {
            continue;
        }
        let spec = Arc::make_mut(service);
        for file in std::mem::take(&mut spec.env_file) {
            let path = project.dir().join(&file);
            let variables = berth_local::read_env_file(&path).map_err(|e| {
                Problems::one(Problem::new(format!("`{name}`: {}", e.message)).help(e.help))
            })?;
            for (key, value) in variables {
                if spec.env.contains_key(&key) || spec.secrets.contains_key(&key) {
                    continue;
                }
                if berth_core::check::looks_secret(&key) {
                    spec.secrets.insert(key.clone(), SecretRef::Env(key));
                } else {
                    spec.env.insert(key, Template::literal(value));
                }
            }
        }
    }
    Ok(ecosystem)
}
