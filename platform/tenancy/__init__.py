"""Tenants (organisations), each owning one PostgreSQL schema, and how a request selects one."""
