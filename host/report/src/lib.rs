//! joulebench-report (being written).
