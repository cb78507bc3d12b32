# lablog server image. Build: `docker build -t lablog:latest .` (or `docker compose build`).
# Three stages on the official Node 20 image:
#   deps     production dependencies only; compiles better-sqlite3 from source (python3, make, g++),
#            so no prebuilt-binary download is needed (works behind a strict firewall)
#   build    every dependency; compiles the server (tsc) and the UI (vite) into dist/ and web/dist/
#   runtime  node + production node_modules + dist/ + web/dist/ + migrations/ + the client-sdk package,
#            run as the unprivileged `node` user, data in the volume /data
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY client-sdk/package.json client-sdk/
COPY web/package.json web/
# --ignore-scripts: the root "prepare" script would run the full build here. Only the root and the
# client-sdk workspace: the web workspace (vite, preact, uplot) is needed to build, not to run. npm
# still leaves a few optional peers (tsx, esbuild) behind as extraneous; they go too. Then the one
# native addon is compiled, and its compiler leftovers removed.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund -w client-sdk --include-workspace-root \
 && (npm ls --omit=dev --all --parseable --long 2>/dev/null || true) | grep ':EXTRANEOUS$' | cut -d: -f1 | xargs -r rm -rf \
 && npm rebuild better-sqlite3 \
 && node -e "require('better-sqlite3')(':memory:').close()" \
 && rm -rf node_modules/better-sqlite3/build/Release/obj node_modules/better-sqlite3/build/Release/.deps \
           node_modules/better-sqlite3/build/Release/test_extension.node node_modules/better-sqlite3/deps \
           node_modules/better-sqlite3/src \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY client-sdk/package.json client-sdk/
COPY web/package.json web/
# Nothing in the build loads better-sqlite3, so no native compile here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build && rm -rf dist/test dist/bench dist/examples

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    LABLOG_DATA_DIR=/data \
    LABLOG_HOST=0.0.0.0 \
    LABLOG_PORT=5000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY client-sdk/package.json client-sdk/
COPY --from=build /app/client-sdk/dist client-sdk/dist
COPY --from=build /app/dist dist
COPY --from=build /app/web/dist web/dist
COPY migrations migrations
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.LABLOG_PORT||5000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node runs as PID 1 (no shell in between) and handles SIGTERM itself: in-flight requests finish, the
# store closes, it logs 'stopped' and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--max-semi-space-size=4", "dist/server/cli.js"]
CMD ["server"]
