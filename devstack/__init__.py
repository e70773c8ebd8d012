"""Local development stack: real PostgreSQL and Redis under .data/, and the launcher that uses them."""
