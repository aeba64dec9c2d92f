"""Host-side workloads: the catalogue of reference kernels (and, later, models), their parameters,
work counts, and the artifacts (ONNX models) that are built here and deployed to boards."""
