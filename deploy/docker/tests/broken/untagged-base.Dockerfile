# rejected by dockerfile: FROM debian: no tag
# A base image without a tag is latest.
ARG DEBIAN_IMAGE=debian
FROM ${DEBIAN_IMAGE} AS build
WORKDIR /src
COPY . .
RUN make build

FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends libabsl20220623 libgrpc++1.51 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/bin/cosched-scheduler /usr/local/bin/
USER 10001:10001
CMD ["cosched-scheduler"]
