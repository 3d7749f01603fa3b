//! `cargo xtask fetch-models` (being written).

use crate::DynError;

pub fn run(_args: &[String]) -> Result<(), DynError> {
    Err("fetch-models is not written yet".into())
}
