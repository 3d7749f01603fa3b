//! joulebench-meter-estimate (being written).
