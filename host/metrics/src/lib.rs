//! joulebench-metrics (being written).
