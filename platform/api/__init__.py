"""The HTTP API (`/api/v1`): routing, errors, pagination, permissions and the views of shared resources."""
