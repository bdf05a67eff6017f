# rejected by dockerfile: Instructions should be written in uppercase letters
# dockerfile-utils warnings fail too.
ARG DEBIAN_IMAGE=debian:bookworm
FROM ${DEBIAN_IMAGE} AS build
workdir /src
COPY . .
RUN make build

FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends libabsl20220623 libgrpc++1.51 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/bin/cosched-scheduler /usr/local/bin/
USER 10001:10001
CMD ["cosched-scheduler"]
