"""`act-edge bench`: latency-profiled benchmarking of a bundle (startup, per-stage latency,
throughput, a deadline-paced control loop, PyTorch-eager comparison, power on Jetson).

Modules, one job each: `synthetic` (seeded observations), `policy_adapter` (the only place that
knows the Policy API), `control_loop`, `device_info`, `power`, `runner` (orchestration -> result
dict), `report` (schema, table, JSON), `plot` (matplotlib, optional). None imports torch at module
level; torch loads only for `--compare` or `--backend torch`.
"""
