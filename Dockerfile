# One image for every ThreatRelay service; the command picks the role
# (`producer`, `subscriber`, `provision`, `receiver`). Three stages: the
# TypeScript build, the production dependencies, and the runtime, which gets
# only the compiled code, those dependencies and the Avro schemas, and runs
# as the unprivileged user `node`. NODE_IMAGE (docker-compose.yml passes it
# on) may name another Node 20 Debian image, such as the local stand-in of
# scripts/docker/images.sh. No `# syntax=` line: the classic builder
# (DOCKER_BUILDKIT=0) builds it too, with no frontend image to pull.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY services ./services
RUN npm run build

# Production dependencies only (no TypeScript, test or lint tooling).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the service user: the code cannot be changed by the process running it.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY schemas ./schemas
# The MISP warninglist snapshot producers and readers load (config/warninglists/README.md).
COPY config/warninglists ./config/warninglists
# The subscriber's embedded dedup stores (mount a volume here).
RUN mkdir -p /data && chown node:node /data
USER node
ENTRYPOINT ["node", "dist/services/cli/main.js"]
CMD ["--help"]
