# rejected by dockerfile --binaries: runtime stage does not install
# The runtime stage lacks libraries the binaries load (checked when build/bin exists).
ARG DEBIAN_IMAGE=debian:bookworm
FROM ${DEBIAN_IMAGE} AS build
WORKDIR /src
COPY . .
RUN make build

FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends libabsl20220623 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/bin/cosched-scheduler /usr/local/bin/
USER 10001:10001
CMD ["cosched-scheduler"]
