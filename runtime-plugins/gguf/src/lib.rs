//! joulebench-gguf (being written).
