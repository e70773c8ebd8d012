"""gunicorn settings read from the working directory (the repo root in `make run`, /app in the image).

Only what the command lines in Procfile, Dockerfile and docker-compose.yml do not say: access log lines
end with the request id (the X-Request-ID the app sets on every response), so an access log line, the
app's own log lines and the error body a client saw can be joined on it.
"""

access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" request_id=%({x-request-id}o)s'
)
