# syntax=docker/dockerfile:1
# One image for every ThreatRelay service; the command picks the role
# (`producer`, `subscriber`, `provision`, `receiver`).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY services ./services
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY schemas ./schemas
# The subscriber's embedded dedup stores (mount a volume here).
RUN mkdir -p /data && chown node:node /data
USER node
ENTRYPOINT ["node", "dist/services/cli/main.js"]
CMD ["--help"]
