# The gantry daemon image: the release binary on Debian bookworm.
#
# Builds offline: the base is the runner image scripts/build-images.sh imports locally (a
# debootstrap'd bookworm with git, node and npm), so nothing is pulled. The binary is built on
# the host and passed in a tiny build context (the repository's target directories are many
# gigabytes; never send them to the daemon):
#
#   cargo build --release -p gantry-cli
#   ctx=$(mktemp -d) && cp target/release/gantry "$ctx"/ && cp docs/gantry.toml "$ctx"/
#   docker build -f Dockerfile -t gantry/daemon:latest "$ctx"
#
# Run it with a data volume and the Docker socket (container jobs are siblings on the host's
# engine); see docs/deploy.md:
#
#   docker run -d --name gantry -p 127.0.0.1:8080:8080 \
#     -v gantry-data:/var/lib/gantry -v /srv/git:/srv/git:ro \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     -v /etc/gantry/gantry.toml:/etc/gantry/gantry.toml:ro gantry/daemon:latest
FROM gantry/runner:bookworm

# A fixed, unprivileged user owns the data; the Docker socket's group is added at `docker run`
# (--group-add $(stat -c %g /var/run/docker.sock)) rather than baked in, as it differs per host.
RUN groupadd --system --gid 10001 gantry \
 && useradd --system --uid 10001 --gid gantry --home-dir /var/lib/gantry --shell /usr/sbin/nologin gantry \
 && mkdir -p /var/lib/gantry /etc/gantry \
 && chown gantry:gantry /var/lib/gantry

COPY gantry /usr/local/bin/gantry
COPY gantry.toml /etc/gantry/gantry.toml

USER gantry
WORKDIR /var/lib/gantry
VOLUME ["/var/lib/gantry"]
EXPOSE 8080
ENV GANTRY_CONFIG=/etc/gantry/gantry.toml \
    GANTRY_LOG=info

# A failed check leaves the container running but marked unhealthy: orchestrators restart it.
HEALTHCHECK --interval=30s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1

# The daemon drains on SIGTERM (docker stop): give it --stop-timeout >= drain_timeout_secs.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gantry", "daemon"]
