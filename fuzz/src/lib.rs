//! Shared code of the fuzz targets; see `docs/FUZZING.md`.

pub mod alloc_guard;
pub mod bridge_script;
pub mod codec_check;
pub mod core_script;
