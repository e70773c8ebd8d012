-- Dagster keeps its run and event storage in its own database, beside the platform's.
CREATE DATABASE dagster;
