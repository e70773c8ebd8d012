"""Realistic, deterministic sample data: tenants, people, projects and tasks with months of history."""
