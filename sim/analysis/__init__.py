"""Pure functions of result tables: statistics, metrics, statements, the profit bridge and the verdict (no SimPy, no files)."""
