//! joulebench-dataset-common (being written).
