# syntax=docker/dockerfile:1
#
# One image for the whole casework suite. The command picks service and
# process:  python -m casework_<service> {api|events}
# Kubernetes Deployments override `args` only (keep the tini ENTRYPOINT).
#
#   docker build -t ghcr.io/casework/casework:<tag> .
#   docker run --rm ghcr.io/casework/casework:<tag> python -m casework_notify events

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build ----
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# Runtime dependencies in a relocatable-by-copy venv (same base image and
# python path in both stages).
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# Generated gRPC/protobuf code (grpcio-tools comes from requirements.txt).
# The unquoted $(find ...) is intended: one argument per .proto file.
COPY protos/ ./protos/
# hadolint ignore=SC2046
RUN mkdir -p gen \
 && python -m grpc_tools.protoc -I protos \
      --python_out=gen --grpc_python_out=gen --pyi_out=gen \
      $(find protos -name '*.proto')

# The runtime only: .dockerignore leaves tests, test helpers and tools/ (the
# development tools: local stack, benchmarks, development tokens) out of the context.
COPY lib/ ./lib/
COPY services/ ./services/

# Byte-compile ahead of time: the runtime root filesystem is read-only.
RUN python -m compileall -q lib gen services

# -------------------------------------------------------------- runtime ----
FROM ${PYTHON_IMAGE} AS runtime

# tini as PID 1: forwards SIGTERM to python and reaps children. Not pinned:
# Debian point releases replace the exact version in the archive.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini libreoffice-writer-nogui fonts-dejavu-core fonts-liberation2 \
 && rm -rf /var/lib/apt/lists/*

# Numeric, non-root user (Kubernetes runAsNonRoot needs a numeric UID).
RUN groupadd --system --gid 10001 casework \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin casework

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app/lib:/app/gen:/app/services/intake:/app/services/clients:/app/services/plans:/app/services/documents:/app/services/notify:/app/services/feedback \
    GRPC_PORT=50051 \
    METRICS_PORT=9464 \
    HEALTH_PORT=8000 \
    PUBLIC_HTTP_PORT=8080 \
    BIND_HOST=0.0.0.0

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app/gen /app/gen
COPY --from=build /app/lib /app/lib
COPY --from=build /app/services /app/services

WORKDIR /app
USER 10001:10001

# api: gRPC 50051 + metrics 9464; events: health/metrics 8000; intake events:
# public web form 8080. In a container every server listens on all addresses
# (BIND_HOST); outside one the default is loopback.
EXPOSE 50051 9464 8000 8080

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["python", "-m", "casework_intake", "api"]
