//! joulebench-sampler (being written).
