//! The labels that make a container, network or volume berth's: the project it
//! belongs to and what it is. berth lists and removes nothing without them.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

pub const PROJECT: &str = "dev.berth.project";
pub const ECOSYSTEM: &str = "dev.berth.ecosystem";
pub const ENVIRONMENT: &str = "dev.berth.environment";
pub const SERVICE: &str = "dev.berth.service";
pub const INSTANCE: &str = "dev.berth.instance";
pub const REVISION: &str = "dev.berth.revision";

/// Whose things they are: one environment of one ecosystem, in one checkout.
#[derive(Clone, Debug)]
pub struct Owner {
    /// A hash of berth.yaml's directory: two checkouts of one ecosystem do not
    /// touch each other's containers.
    pub project: String,
    pub ecosystem: String,
    pub environment: String,
}

impl Owner {
    pub fn new(project_dir: &Path, ecosystem: &str, environment: &str) -> Owner {
        // However the directory was named: relative, through a link, or with `.`.
        let absolute = std::fs::canonicalize(project_dir).unwrap_or_else(|_| project_dir.into());
        let digest = Sha256::digest(absolute.to_string_lossy().as_bytes());
        let project: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        Owner {
            project,
            ecosystem: ecosystem.to_owned(),
            environment: environment.to_owned(),
        }
    }

    /// `ECOSYSTEM-ENVIRONMENT`, the start of every name berth gives.
    pub fn prefix(&self) -> String {
        format!("{}-{}", self.ecosystem, self.environment)
    }

    /// The labels every object of the environment carries.
    pub fn labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (PROJECT.to_owned(), self.project.clone()),
            (ECOSYSTEM.to_owned(), self.ecosystem.clone()),
            (ENVIRONMENT.to_owned(), self.environment.clone()),
        ])
    }

    /// The Engine's filter for exactly those objects.
    pub fn filter(&self) -> HashMap<String, Vec<String>> {
        filter(self.labels())
    }

    /// The filter for the environment's volumes, whichever checkout made them:
    /// the data is the environment's, and a checkout that moved keeps it.
    pub fn volume_filter(&self) -> HashMap<String, Vec<String>> {
        let mut labels = self.labels();
        labels.remove(PROJECT);
        filter(labels)
    }
}

fn filter(labels: HashMap<String, String>) -> HashMap<String, Vec<String>> {
    let labels = labels
        .into_iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    HashMap::from([("label".to_owned(), labels)])
}
