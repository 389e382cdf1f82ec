/// Streaming anomaly detection: per-series detectors with O(1) work per point and bounded memory, scoring each
/// point in [0, 1], and the Numenta Anomaly Benchmark scorer used to evaluate them.
public enum Anomaly {}
