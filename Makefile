# The two commands of the README: `make run` and `make test`.
DB ?= ./data.db
PORT ?= 6379
HOST ?= 127.0.0.1

.PHONY: run test build release bootstrap test-long clean

bootstrap:
	@scripts/bootstrap

release: bootstrap
	swift build -c release --product resplite

# Installs what is missing, builds, and starts the server on 127.0.0.1:6379 with ./data.db.
run: release
	.build/release/resplite --host $(HOST) --port $(PORT) --db $(DB)

build: bootstrap
	swift build --build-tests

# The whole test suite (what .ci/run runs).
test: build
	scripts/test

# Long soak and crash variants (not in the default suite).
test-long: build
	RESPLITE_LONG_TESTS=1 scripts/test

clean:
	rm -rf .build
