# Dockerfile - miaw from its own Debian package (scripts/package.sh). Build with the
# package directory as context:
#   scripts/package.sh && docker build -f Dockerfile -t miaw build-deb/dist
#   docker run -p 3000:3000 -v miaw-data:/var/lib/miaw miaw
# The API key is generated on first start and printed once (docker logs), or set API_KEY.
FROM debian:bookworm-slim
COPY miaw_*.deb /tmp/
RUN apt-get update \
 && apt-get install -y --no-install-recommends /tmp/miaw_*.deb ca-certificates \
 && rm -rf /var/lib/apt/lists/* /tmp/*.deb \
 && useradd --system --home-dir /var/lib/miaw --shell /usr/sbin/nologin miaw \
 && install -d -o miaw -g miaw -m 0700 /var/lib/miaw
USER miaw
ENV API_HOST=0.0.0.0
VOLUME /var/lib/miaw
EXPOSE 3000
CMD ["miaw", "serve", "--config", "/etc/miaw/miaw.yaml"]
