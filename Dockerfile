# lablog server image. Build: `docker build -t lablog:latest .` (or `docker compose build`).
# Stages on the official Node 20 image:
#   deps       production dependencies only; compiles better-sqlite3 from source (python3, make, g++),
#              so no prebuilt-binary download is needed (works behind a strict firewall)
#   build      every dependency; compiles the server (tsc) and the UI (vite) into dist/ and web/dist/
#   node-only  the base without npm, yarn and the C headers
#   runtime    from scratch, one flat copy of node-only, plus production node_modules, dist/, web/dist/,
#              migrations/ and the client-sdk package; runs as the unprivileged `node` user, data in
#              the volume /data
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
# Nothing at run time reads type declarations, TypeScript sources, source maps or docs: about half of
# node_modules. (A layer of its own, so changing it does not recompile the addon.)
RUN find node_modules -type f \( -name '*.ts' -o -name '*.cts' -o -name '*.mts' -o -name '*.map' -o -name '*.md' \) -delete

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY client-sdk/package.json client-sdk/
COPY web/package.json web/
# Nothing in the build loads better-sqlite3, so no native compile here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build && rm -rf dist/test dist/bench dist/examples

# Node alone: npm, yarn, corepack and the C headers are for building, not running (about 80 MB). The
# runtime starts from scratch with a copy of this file system, so they are not in a lower layer either.
FROM ${NODE_IMAGE} AS node-only
RUN rm -rf /usr/local/include/node /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx \
           /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
           /usr/local/share/doc /usr/local/share/man /root/.npm /tmp/*

FROM scratch AS runtime
COPY --from=node-only / /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production \
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
ENTRYPOINT ["node", "--max-semi-space-size=8", "dist/server/cli.js"]
CMD ["server"]
