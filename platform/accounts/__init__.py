"""People (shared across tenants) and their role in each tenant."""
