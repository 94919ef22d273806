# claimsweep: two commands do everything on a fresh Debian machine.
#   make demo   install dependencies, build, run a small sweep with identical workers
#   make test   install dependencies, build, run the whole test suite
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

# Debian packages the build and tests need.
DEB_PACKAGES := cmake g++ make libprotobuf-dev protobuf-compiler libcli11-dev \
                libgtest-dev libbenchmark-dev python3-optuna

.PHONY: all deps build demo test unit bench clean

all: build

# Installs only what is missing; silent when everything is there.
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	sweeps/demo.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Seconds: the unit tests only.
unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

bench: build
	bench/run_claims.sh $(BUILD)

clean:
	rm -rf $(BUILD)
