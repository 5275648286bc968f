"""The input language: the typed scenario, its distributions, safe YAML with extends and overrides, and the plan calendar."""
