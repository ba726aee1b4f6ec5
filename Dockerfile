# syntax=docker/dockerfile:1
#
# The hub's image: one image, every process chosen by its command (bin/jobhub-process):
#   docker run jobhub            web (the default): API, dashboard, /healthz, /readyz, /metrics on 3000
#   docker run jobhub worker     BullMQ workers and the outbox relay; /metrics, /healthz, /readyz on 9464
#   docker run jobhub clock      the schedules; /metrics, /healthz, /readyz on 9464
#   docker run jobhub release    the hub's migrations, run once before a new version's processes start
#   docker run jobhub hub        web, worker and clock in one process (npm start: the development demo)
#   docker run jobhub jobhub …   the operator's command line
# docs/deploy.md describes the settings each needs. test/e2e/production-install.test.ts runs the
# runtime stage's steps (the same copied paths, the same npm ci) on every test run.
#
# The base is pinned by version. For reproducible builds pin its digest too, and let a bot raise it:
#   FROM node:20.19-bookworm-slim@sha256:<digest> AS build
# (`docker buildx imagetools inspect node:20.19-bookworm-slim` prints the current digest).

FROM node:20.19-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# .dockerignore keeps node_modules, dist, tests and local settings out of the context.
COPY . .
RUN npm run build

FROM node:20.19-bookworm-slim AS runtime
# tini as PID 1: it passes SIGTERM on to node (whose graceful shutdown hands running jobs back) and
# reaps zombies, without relying on `docker run --init` or the orchestrator's equivalent.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
# The production dependencies only: a runtime import of a development dependency fails here, and in
# the production-install test, instead of in production.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
# Read at run time from the project's folder, not from dist/ (the build compiles only .ts): the
# business tables the development demo creates, the dashboard's page template and its script.
COPY entities/business-schema ./entities/business-schema
COPY server/board/views ./server/board/views
COPY server/board/assets ./server/board/assets
# The files stay root's: the hub's user can read its code but not change it.
USER node
EXPOSE 3000 9464
# /healthz is liveness (the process answers), not readiness: an orchestrator routes on /readyz.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["node", "/app/bin/jobhub-healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--", "/app/bin/jobhub-process"]
CMD ["web"]
