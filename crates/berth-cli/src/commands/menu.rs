//! `berth` alone in a terminal: pick an environment and a deployment from a menu
//! and run it — what a team's home-made deployment CLI used to offer.

use std::io::IsTerminal;

use berth_core::{Ecosystem, Problems};
use dialoguer::Select;
use dialoguer::theme::SimpleTheme;

use super::{Exit, load, up};
use crate::cli::{Format, Global};
use crate::output;

pub fn available() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

pub fn run() -> Exit {
    let mut global = Global::default();
    match choose(&mut global) {
        Ok(Some(names)) => {
            up::run(&global, &names, &up::Options::default()).unwrap_or_else(|problems| {
                output::problems(&problems, Format::Text);
                Exit::Invalid
            })
        }
        Ok(None) => Exit::Success,
        Err(problems) => {
            output::problems(&problems, Format::Text);
            Exit::Invalid
        }
    }
}

/// Asks for the environment, then for what to run in it; `None` when the user
/// leaves with Escape or `q`.
fn choose(global: &mut Global) -> Result<Option<Vec<String>>, Problems> {
    let project = load(global)?;
    let environments: Vec<String> = project.environment_names().map(str::to_owned).collect();
    let labels: Vec<String> = environments
        .iter()
        .map(|name| {
            let ecosystem = project.ecosystem(Some(name)).expect("a loaded environment");
            match &ecosystem.environment.description {
                Some(description) => format!("{name} — {description}"),
                None => format!("{name} ({})", ecosystem.environment.runtime),
            }
        })
        .collect();
    let Some(environment) = pick("Environment", &labels)? else {
        return Ok(None);
    };
    global.environment = Some(environments[environment].clone());
    let ecosystem = project.ecosystem(global.environment.as_deref())?;
    let (names, labels) = deployments(ecosystem);
    Ok(pick("Deployment", &labels)?.map(|choice| names[choice].clone()))
}

/// Everything, then each deployment that applies to the environment.
fn deployments(ecosystem: &Ecosystem) -> (Vec<Vec<String>>, Vec<String>) {
    let mut names = vec![Vec::new()];
    let mut labels = vec![format!(
        "everything ({} services)",
        ecosystem.services.len()
    )];
    for (name, deployment) in &ecosystem.deployments {
        let applies = deployment.environments.is_empty()
            || deployment
                .environments
                .contains(&ecosystem.environment_name);
        if applies {
            names.push(vec![name.clone()]);
            labels.push(match &deployment.description {
                Some(description) => format!("{name} — {description}"),
                None => name.clone(),
            });
        }
    }
    (names, labels)
}

fn pick(prompt: &str, items: &[String]) -> Result<Option<usize>, Problems> {
    Select::with_theme(&SimpleTheme)
        .with_prompt(prompt)
        .items(items)
        .default(0)
        .interact_opt()
        .map_err(|e| Problems::one(berth_core::Problem::new(format!("the menu failed: {e}"))))
}
