# syntax=docker/dockerfile:1
# One image for every Rewind process: the agent's three commands (`node dist/agent/main.js serve`,
# `load-module`, `device-plugin`) and the controller (`node dist/controller/main.js`).
#
#   docker build -t rewind:0.1.0 .
#   npm run image    # buildah, over a local stand-in for the base; an archive for containerd
#                    # (scripts/build-image.sh; run as a node runs it: test/image/)
#
# Stages: `build` compiles the TypeScript and the native addon; `modules` prebuilds rewind.ko for
# the kernels of PREBUILT_KERNEL_HEADERS (Debian packages); the runtime keeps node, the production
# node_modules, the kernel module's sources and the compiler to build rewind.ko on a node whose
# kernel has no prebuilt module (from the host's /usr/src and /lib/modules, mounted read-only).
# The image runs as an unprivileged user by default (the controller); the chart runs the agent,
# the module loader and the device plugin as root (the device and the kubelet's folder are root's).
#
# Pin the base by digest in CI: --build-arg NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:<digest>
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY agent/ agent/
COPY controller/ controller/
COPY common/ common/
COPY native/ native/
COPY kmod/include/ kmod/include/
RUN npm run build:ts && npm run build:native \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS modules
# Space-separated Debian kernel header packages to prebuild rewind.ko for (empty: none).
ARG PREBUILT_KERNEL_HEADERS=linux-headers-amd64
RUN apt-get update \
 && apt-get install -y --no-install-recommends make gcc libc6-dev libelf-dev ${PREBUILT_KERNEL_HEADERS} \
 && rm -rf /var/lib/apt/lists/*
COPY kmod/ /src/kmod/
RUN mkdir -p /out \
 && for kdir in /usr/src/linux-headers-*; do \
      [ -f "$kdir/Module.symvers" ] || continue; \
      rel="${kdir#/usr/src/linux-headers-}"; \
      rm -rf /tmp/kmod && cp -r /src/kmod /tmp/kmod \
      && make -C /tmp/kmod KDIR="$kdir" module \
      && install -D -m 0644 /tmp/kmod/rewind.ko "/out/$rel/rewind.ko" || exit 1; \
    done

FROM ${NODE_IMAGE}
# What `rewind-agent load-module` needs to load, or build then load, rewind.ko on a node: kmod
# (insmod, modinfo), and make + gcc + libelf for the node's own headers. No other tools.
RUN apt-get update \
 && apt-get install -y --no-install-recommends kmod make gcc libc6-dev libelf-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules/ node_modules/
COPY --from=build /src/dist/ dist/
# tsc does not copy the device plugin's API; agent/device-plugin/proto.ts looks for it beside the
# compiled plugin first.
COPY agent/device-plugin/api.proto dist/agent/device-plugin/api.proto
COPY --from=build /src/native/build/Release/*.node native/build/Release/
# REWIND_MODULE_PREBUILT_DIR (/app/modules/<release>/rewind.ko) and REWIND_MODULE_SOURCE_DIR
# (/app/kmod): the loader's defaults.
COPY --from=modules /out/ modules/
COPY kmod/ kmod/
COPY scripts/ scripts/
ENV NODE_ENV=production
USER 65532:65532
CMD ["node", "dist/controller/main.js"]
