# One image with the four binaries; each Deployment runs its own (command: ["/<binary>"]).
# Build: make docker-build IMG=registry.example.com/storageos/cluster-operator:v1.0.0
FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so source edits do not invalidate the download layer.
COPY go.mod go.sum ./
COPY apis/go.mod apis/go.sum apis/
RUN go mod download
COPY apis/ apis/
COPY cmd/ cmd/
COPY pkg/ pkg/
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/cluster-manager ./cmd/cluster-manager
RUN go build -trimpath -ldflags="-s -w" -o /out/upgrade-manager ./cmd/upgrade-manager
RUN go build -trimpath -ldflags="-s -w" -o /out/job-manager ./cmd/job-manager
RUN go build -trimpath -ldflags="-s -w" -o /out/scheduler-webhook ./cmd/scheduler-webhook

# distroless static: no shell, no package manager, a non-root user.
FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/cluster-manager /cluster-manager
COPY --from=build /out/upgrade-manager /upgrade-manager
COPY --from=build /out/job-manager /job-manager
COPY --from=build /out/scheduler-webhook /scheduler-webhook
USER 65532:65532
