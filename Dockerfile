# syntax=docker/dockerfile:1
# One image for every OMS service; docker-compose.yml picks the service with `command:`
# (python -m order_svc | inventory_svc | notify_svc | gateway | inventory_svc.seed).
#
#   docker build -t oms-mesh:dev .
#   docker run --rm oms-mesh:dev python -m mesh.cli token --sub admin-1 --role admin
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# --- web: the shop and the back office (web/dist), which the gateway serves -------------------
FROM ${NODE_IMAGE} AS web
WORKDIR /src
COPY package.json .npmrc ./
RUN npm install --no-audit --no-fund --loglevel=error
COPY web/ web/
RUN npm run build

# --- builder: the project and its pinned dependencies in a virtualenv -------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml constraints.txt ./
COPY oms/ oms/
COPY mesh/ mesh/
COPY order_svc/ order_svc/
COPY inventory_svc/ inventory_svc/
COPY notify_svc/ notify_svc/
COPY payment_svc/ payment_svc/
COPY gateway/ gateway/
# Not editable: the code lands in site-packages, migrations included. grpcio-tools (pinned in
# constraints.txt) lets the gateway read the .proto comments for its OpenAPI descriptions.
RUN pip install -c constraints.txt . grpcio-tools \
 && python -m compileall -q /opt/venv/lib

# --- runtime: slim Python, the virtualenv, the .proto sources, a non-root user ----------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="oms-mesh" \
      org.opencontainers.image.description="OMS mesh services: order, inventory, notify, payment, HTTP gateway"
RUN groupadd --system --gid 10001 oms \
 && useradd --system --uid 10001 --gid oms --home-dir /app --no-create-home --shell /usr/sbin/nologin oms \
 && install -d -o 10001 -g 10001 /var/lib/oms-payment
# /var/lib/oms-payment: the simulated provider's books in compose (a named volume takes the
# directory's owner from the image, so the non-root user can write it).
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY proto/ /app/proto/
COPY third_party/googleapis/ /app/third_party/googleapis/
COPY deploy/healthcheck.py /app/healthcheck.py
COPY --from=web /src/web/dist/ /app/web/dist/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OMS_GATEWAY_PROTO_PATH=/app/proto,/app/third_party/googleapis \
    OMS_GATEWAY_WEB_DIST=/app/web/dist
# Numeric, so runtimes that enforce runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
# gRPC: order 50051, inventory 50052, notify 50053, payment 50054; metrics 9101-9104; gateway HTTP 8080.
EXPOSE 50051 50052 50053 50054 9101 9102 9103 9104 8080
CMD ["python", "-m", "gateway"]
