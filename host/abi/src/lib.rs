//! The joulebench plugin contract.
//!
//! joulebench's host loads three kinds of plugins at run time, each a `cdylib` built on its own:
//! inference runtimes ([`runtime`]), power meters ([`meter`]) and benchmark datasets
//! ([`dataset`]). This crate is the only place where the types that cross that boundary are
//! defined, and it does no I/O: the host and every plugin depend on it, and on nothing of each
//! other.
//!
//! # Shape
//!
//! - One plugin library holds one kind, exported as that kind's root module ([`RuntimeMod`],
//!   [`MeterMod`], [`DatasetMod`]) with the matching `export_*_plugin!` macro. A root module carries
//!   the plugin's name and version and one constructor that takes the plugin's configuration (the
//!   manifest's table, re-serialized as TOML) and returns a trait object ([`RuntimeBox`],
//!   [`MeterBox`], [`DatasetBox`]).
//! - Root modules are prefix types: later versions may only append fields, so the host reads
//!   anything added after `new` as an `Option`.
//! - Every fallible call returns `RResult<T, AbiError>`, an error with a [`ErrorCode`] and a
//!   message. No panic may cross the boundary (abi_stable aborts the process when one does), so
//!   every entry point runs its body inside [`guard`], which turns a panic into an error with the
//!   code [`ErrorCode::PANICKED`]. The export macros wrap the constructor in it; trait methods call
//!   it themselves.
//! - Data crosses in batches (a slice of tasks, a whole evaluation), never one call per token.
//!
//! # Versioning
//!
//! This crate's version is the ABI version ([`ABI_VERSION`]). The host refuses a plugin built
//! against another major.minor version and names both. Any change to a type below that is not
//! an append to a prefix type bumps the minor version while the ABI is at 0.x. An additive
//! change that keeps every layout (a new constant of an open code set) bumps the patch number:
//! a host and a plugin of 0.1.0 and 0.1.1 load each other, and each side treats a code it does
//! not know as unknown. A method appended to a trait's prefix vtable with a default body is
//! additive too: an older plugin's vtable lacks it, and abi_stable calls the default.
//!
//! | version | change |
//! |---|---|
//! | 0.1.0 | the three plugin kinds |
//! | 0.1.1 | state rails: [`RailKind::TEMPERATURE`], [`RailKind::FREQUENCY`], [`RailKind::FLAGS`] |
//! | 0.1.2 | [`Model::generate_timed`] (appended to the model's prefix vtable, with a default that answers "unsupported" for older plugins), [`TimedRequest`], [`TimedGeneration`] |
//!
//! # A minimal meter plugin
//!
//! ```
//! use abi_stable::std_types::{RResult, RString, RVec, ROption};
//! use joulebench_abi::{
//!     AbiError, MeterInfo, Meter, MeterBox, Meter_TO, Quality, RailInfo, RailKind, RailRole,
//!     Reading, guard,
//! };
//!
//! struct Constant;
//!
//! impl Meter for Constant {
//!     fn info(&self) -> MeterInfo {
//!         MeterInfo {
//!             name: "constant".into(),
//!             boundary: "nothing: reports 5 W".into(),
//!             rails: vec![RailInfo {
//!                 name: "total".into(),
//!                 kind: RailKind::POWER,
//!                 role: RailRole::TOTAL,
//!                 quality: Quality::ESTIMATED,
//!                 description: "a constant".into(),
//!             }]
//!             .into(),
//!             update_interval_s: 0.0,
//!         }
//!     }
//!     fn read(&mut self) -> RResult<Reading, AbiError> {
//!         guard(|| Ok(Reading { values: vec![ROption::RSome(5.0)].into() }))
//!     }
//! }
//!
//! fn new(_config: &str) -> Result<Constant, AbiError> {
//!     Ok(Constant)
//! }
//!
//! // In the plugin crate (crate-type = ["cdylib", "rlib"]):
//! // joulebench_abi::export_meter_plugin!(new);
//! # let mut meter = abi_stable::sabi_trait::TD_Opaque;
//! # let mut m: MeterBox = Meter_TO::from_value(new("").unwrap(), meter);
//! # assert_eq!(m.read().unwrap().values[0], ROption::RSome(5.0));
//! ```
#![deny(missing_docs)]
// abi_stable 0.11's #[sabi_trait] expansion defines impls inside functions.
#![allow(non_local_definitions)]

mod dataset;
mod error;
mod meter;
mod plugin;
mod runtime;

pub use dataset::*;
pub use error::*;
pub use meter::*;
pub use plugin::*;
pub use runtime::*;

/// The ABI version: this crate's version. A host and a plugin work together when their major and
/// minor numbers are equal.
pub const ABI_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Re-exported so that the export macros and plugins name one `abi_stable`.
pub use abi_stable;

/// The README's walk-through compiles: its meter plugin is built here as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
