//! `berth schema`: the JSON Schema of berth.yaml, for editors.

use berth_core::Problems;

use super::Exit;
use crate::output;

pub fn run() -> Result<Exit, Problems> {
    output::json(&berth_core::schema::json_schema());
    Ok(Exit::Success)
}
