# syntax=docker/dockerfile:1
# Parley: a static parleyd (and the parley client) on a distroless base,
# running as a non-root user. Build: docker build -t parley .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/parleyd ./cmd/parleyd \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/parley ./cmd/parley \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/parleyd /out/parley /usr/local/bin/
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV PARLEY_DATA_DIR=/data
VOLUME /data
EXPOSE 3000 4000 4001
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/usr/local/bin/parleyd", "health"]
ENTRYPOINT ["/usr/local/bin/parleyd"]
