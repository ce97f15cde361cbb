# syntax=docker/dockerfile:1.10
# The Gantry sandbox as an image: built in one stage, run from a small one with production
# dependencies only, as a non-root user, under tini so that SIGTERM reaches Node (graceful drain).
# Build: docker build -t gantry-sandbox:local .   (docker-compose.yml builds it as the app replicas)

ARG NODE_IMAGE=node:24.11.1-alpine3.22

# ---- build: every dependency, compile the whole workspace, bundle the sandbox (as `npm start` does) ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY scripts/bundle.mjs scripts/eager-wrappers.mjs ./scripts/
COPY packages ./packages
COPY plugins ./plugins
COPY sandbox ./sandbox
RUN npm ci --ignore-scripts --no-audit --no-fund
RUN npx tsc -b packages/core packages/http plugins/* sandbox && node scripts/bundle.mjs

# ---- prod-deps: production dependencies of the workspaces the sandbox needs, nothing else ----
# --ignore-scripts: no package runs code at install. argon2 loads its bundled musl prebuild at runtime
# (node-gyp-build); better-sqlite3 gets no binary, which only the sqlite driver (embedded profile) needs.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/packages ./packages
COPY --from=build /src/plugins ./plugins
COPY --from=build /src/sandbox ./sandbox
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
      --workspace sandbox --workspace packages/core --workspace packages/http --workspace plugins \
  && npm cache clean --force \
  && find packages plugins sandbox -name '*.tsbuildinfo' -delete \
  && rm -rf packages/*/src plugins/*/src sandbox/src packages/*/dist/test plugins/*/dist/test sandbox/dist/test

# ---- runtime: small, non-root, tini as PID 1 ----
FROM ${NODE_IMAGE} AS runtime
RUN apk add --no-cache tini=0.19.0-r3
ENV NODE_ENV=production \
    GANTRY_PROFILE=compose \
    PORT=3000
WORKDIR /app
COPY --from=prod-deps --chown=node:node /app ./
USER node
WORKDIR /app/sandbox
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/sbin/tini", "--"]
# The bundle (sandbox/dist/bundle, see docs/operations.md): it reads native addons and the modules loaded
# at run time from the node_modules copied above; `node dist/src/main.js` is the same app unbundled.
CMD ["node", "--max-semi-space-size=4", "--max-old-space-size=512", "--no-concurrent-recompilation", "dist/bundle/main.js"]
