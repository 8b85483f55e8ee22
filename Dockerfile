# The image installs the wheel CI builds (`.ci/run` leaves it in dist/):
#   python -m pip wheel --no-deps --wheel-dir dist . && docker build -t authsvc .
# Production dependencies only: the embedded PostgreSQL is a development extra, and the
# service refuses to run without AUTHSVC_DATABASE_URL outside dev mode anyway.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AUTHSVC_ENV=prod
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin authsvc
# The dependencies from requirements.lock only, each file checked against its sha256 (a
# tampered or substituted upload fails the build), then the wheel without resolving again;
# `pip check` proves the lock satisfies the wheel. The lock: `.ci/lock`; audited: `.ci/audit`.
COPY requirements.lock /tmp/
COPY dist/authsvc-*.whl /tmp/
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock \
    && pip install --no-cache-dir --no-deps /tmp/authsvc-*.whl \
    && pip check \
    && rm /tmp/authsvc-*.whl /tmp/requirements.lock
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
# Migrations run as a one-off `authsvc migrate` job before a release (or set
# AUTHSVC_MIGRATE_ON_START=true on one replica); see docs/operations.md.
CMD ["authsvc", "serve", "--host", "0.0.0.0"]
