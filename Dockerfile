# One image for every component: `devreg operator`, `devreg gateway`, `devreg sim`, the CLI.
# Not built on the development machine (no Docker engine there); see README "Images".
FROM node:20-bookworm-slim AS deps
WORKDIR /app
# Native addon for cbor-x's fast decoder; falls back to pure JS if it cannot build.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY runtime/package.json runtime/
COPY protocol/package.json protocol/
COPY kube/package.json kube/
COPY firmware-sim/package.json firmware-sim/
COPY gateway-mqtt/package.json gateway-mqtt/
COPY operator/package.json operator/
COPY bench/package.json bench/
COPY cli/package.json cli/
COPY dashboard/package.json dashboard/
# npm install (not ci): it honours the lockfile but tolerates optional platform packages a mirror lacks.
RUN npm install --omit=dev --no-audit --no-fund

# The dashboard's UI, built with Vite (a dev dependency) from npm packages only.
FROM deps AS ui
# Adds the dev dependencies (Vite, TypeScript) on top of the production install.
RUN npm install --no-audit --no-fund
COPY dashboard/ dashboard/
RUN npm run build -w @devreg/dashboard

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY runtime/ runtime/
COPY protocol/ protocol/
COPY kube/ kube/
COPY firmware-sim/ firmware-sim/
COPY gateway-mqtt/ gateway-mqtt/
COPY operator/ operator/
COPY cli/ cli/
COPY bench/ bench/
COPY dashboard/ dashboard/
COPY --from=ui /app/dashboard/dist dashboard/dist
COPY crds/ crds/
# Non-root, numeric so runAsNonRoot can verify it. The root filesystem is read-only at run
# time; tsx's transpile cache goes to /tmp (an emptyDir in deploy/).
USER 10001:10001
EXPOSE 1883 8080 8081 8090 9090
ENTRYPOINT ["node", "--enable-source-maps", "--import", "file:///app/node_modules/tsx/dist/loader.mjs", "/app/cli/src/main.ts"]
CMD ["--help"]
