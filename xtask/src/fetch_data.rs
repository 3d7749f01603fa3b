//! `cargo xtask fetch-data` (being written).

use crate::DynError;

pub fn run(_args: &[String]) -> Result<(), DynError> {
    Err("fetch-data is not written yet".into())
}
