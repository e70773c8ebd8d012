# One image for every role of the production stack (web, Celery worker/beat, outbox relay, Dagster).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app/platform:/app \
    DJANGO_SETTINGS_MODULE=config.settings \
    DAGSTER_HOME=/app/deploy/dagster

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. Runtime dependencies only: the embedded
# PostgreSQL/Redis wheels are for local development (`dev` extra), compose runs the real servers.
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir .

COPY . .

# Collect Swagger UI, Redoc, Bootstrap and plotly.js for WhiteNoise (no CDN at run time).
RUN DEBUG=0 SECRET_KEY=collectstatic-only DATABASE_URL=postgres://build@localhost/build \
    STATIC_ROOT=/app/staticfiles python platform/manage.py collectstatic --noinput

RUN useradd --create-home --uid 10001 app && chown -R app /app
USER app

EXPOSE 8000 3000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
