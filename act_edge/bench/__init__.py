"""`act-edge bench`: latency-profiled benchmarking of a bundle (startup, per-stage latency,
throughput, a deadline-paced control loop, PyTorch-eager comparison, power on Jetson).

Modules, one job each: `synthetic` (seeded observations), `policy_adapter` (policy loading and
its profiler's figures in the bench's units), `control_loop`, `device_info`, `power`, `runner` (orchestration -> result
dict), `report` (schema, table, JSON), `plot` (matplotlib, optional). None imports torch at module
level; torch loads only for `--compare` or `--backend torch`.
"""
