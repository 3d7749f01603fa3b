//! joulebench host library (being written).
