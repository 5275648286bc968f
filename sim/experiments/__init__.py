"""Many replications -> result frames: one replication, tables, executors, experiments, compare, sweep, sensitivity and the pre-run work estimate."""
