# syntax=docker/dockerfile:1
# The product's image: dependencies installed in a build stage, copied into a
# slim runtime that runs as a non-root user; static files are collected (with
# hashed names) at build time. Built and run by docker-compose.yml.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
# Only the lock first, so code changes reuse this layer: the runtime
# dependencies at exactly the versions and files (hashes) the tests ran with.
COPY requirements.lock /src/
RUN /venv/bin/pip install --require-hashes -r /src/requirements.lock

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/venv/bin:$PATH \
    DJANGO_DEBUG=0
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin chat
COPY --from=build /venv /venv
WORKDIR /app
COPY . .
# The key only lets settings load for collectstatic; the real one comes at run time.
RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v 0 \
    && mkdir -p /app/media \
    && chown chat:chat /app/media
USER chat
EXPOSE 8000
# project.serve drains on SIGTERM: close frames (1012), disconnect(), then exit.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "project.serve", "--bind", "0.0.0.0", "--port", "8000", "--proxy-headers", "project.asgi:application"]
