# The emulator as a container image: every emulated AWS service on port 4566.
#
#   docker build -t aws-emulator .
#   docker run --rm -p 4566:4566 aws-emulator
#
# State is in memory by default; to keep it, mount a volume and pass `--state /data`:
#   docker run --rm -p 4566:4566 -v emu:/data aws-emulator serve --host 0.0.0.0 --state /data
# Health: GET /_emulator/health.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p emulator \
    && strip target/release/emulator \
    && cp target/release/emulator /emulator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /emulator /usr/local/bin/emulator
EXPOSE 4566
ENTRYPOINT ["/usr/local/bin/emulator"]
CMD ["serve", "--host", "0.0.0.0", "--port", "4566", "--in-memory"]
