//! `berth init`: a commented starter berth.yaml, never over an existing file.

use berth_core::{Problem, Problems};

use super::{Exit, new_file};
use crate::cli::Global;

const STARTER: &str = include_str!("../starter.yaml");

pub fn run(global: &Global, name: Option<&str>) -> Result<Exit, Problems> {
    let path = new_file::path(global);
    let name = name
        .map(str::to_owned)
        .unwrap_or_else(|| new_file::default_name(&path));
    if let Some(problem) =
        berth_core::load::dns_label_problem("ecosystem name", &name, Default::default())
    {
        return Err(Problems::one(Problem::new(problem.message).help(format!(
            "{}; pass one with `berth init --name NAME`",
            problem.help.unwrap_or_default()
        ))));
    }
    let text = STARTER.replace("name: starter", &format!("name: {name}"));
    new_file::create(&path, &text, "init")?;
    println!(
        "wrote {} — next: `berth check` and `berth plan`",
        path.display()
    );
    Ok(Exit::Success)
}
